# siVAE: interpretable variational autoencoder for single-cell transcriptomes.
# Reproduces Choi, Li & Quon, Genome Biology 2023. See README.md and config/README.md.
#
#   snakemake --cores all                                   embedded data (no network)
#   snakemake --cores all --configfile config/paper.yaml    the paper's datasets
#   snakemake --cores all results/<dataset>/cohort/gsea.tsv any output by path

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/preprocess.smk"
include: "workflow/rules/bins.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/networks.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/figure_common.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/figure_data.smk"


localrules:
    all,
    download,
    manual_download,
    bins_manifest,


rule all:
    default_target: True
    input:
        all_targets(),
        figure_targets(),
