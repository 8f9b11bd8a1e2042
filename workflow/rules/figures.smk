# Figure panels of the paper (and supplementary panels S5, S11, S24, S25). Every rule
# reads result tables (TSV) or model-output AnnData only, never trains, and calls one
# `sivae.plotting.plot_<panel>` per panel: results/figures/<panel>.png + .pdf, each in
# the Snakemake report with the caption workflow/report/<panel>.rst.
# results/figures.tsv puts the paper's headline next to ours for every panel.
#
# Which dataset each figure draws comes from `figures.datasets` (null: the first
# dataset of the analysis the figure needs); see config/README.md.


# --- Figure 1: toy data (8 genes, genes 1-4 co-regulated) ---------------------------


rule figure_1:
    input:
        adata=lambda w: figure_model_output("toy"),
    output:
        fig1b=panel_output("fig1b", "png"),
        fig1b_pdf=panel_output("fig1b", "pdf"),
        fig1c=panel_output("fig1c", "png"),
        fig1c_pdf=panel_output("fig1c", "pdf"),
        fig1d=panel_output("fig1d", "png"),
        fig1d_pdf=panel_output("fig1d", "pdf"),
    log:
        "logs/figures/figure_1.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        dataset=lambda w: figure_dataset("toy"),
        model=FIGURE_MODEL,
    script:
        "../../scripts/figure_1.py"


# --- Figure 2: cell-embedding accuracy and batch correction -------------------------


rule figure_2ab:
    input:
        embeddings=lambda w: dataset_file("embedding", "embedding/embeddings.tsv"),
        knn=lambda w: dataset_file("embedding", "embedding/knn_accuracy.tsv"),
    output:
        fig2a=panel_output("fig2a", "png"),
        fig2a_pdf=panel_output("fig2a", "pdf"),
        fig2b=panel_output("fig2b", "png"),
        fig2b_pdf=panel_output("fig2b", "pdf"),
    log:
        "logs/figures/figure_2ab.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        dataset=lambda w: figure_dataset("embedding"),
        seed=config["seed"],
    script:
        "../../scripts/figure_2ab.py"


rule figure_2cd:
    input:
        adata=lambda w: figure_model_output("batch"),
    output:
        fig2cd=panel_output("fig2cd", "png"),
        fig2cd_pdf=panel_output("fig2cd", "pdf"),
    log:
        "logs/figures/figure_2cd.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        dataset=lambda w: figure_dataset("batch"),
        label_key=lambda w: dataset_entry(figure_dataset("batch"))["label_key"],
        batch_key=lambda w: dataset_entry(figure_dataset("batch"))["batch_key"],
        model=FIGURE_MODEL,
        seed=config["seed"],
    script:
        "../../scripts/figure_2cd.py"


# --- Figure 3: interpretations and their cost ---------------------------------------


rule figure_3a:
    input:
        agreement=lambda w: dataset_file("attribution", "attribution/agreement.tsv"),
    output:
        fig3a=panel_output("fig3a", "png"),
        fig3a_pdf=panel_output("fig3a", "pdf"),
    log:
        "logs/figures/figure_3a.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("attribution"),
    script:
        "../../scripts/figure_3a.py"


rule figure_3bcd:
    input:
        timing=lambda w: dataset_file("timing", "timing/timing.tsv"),
    output:
        fig3b=panel_output("fig3b", "png"),
        fig3b_pdf=panel_output("fig3b", "pdf"),
        fig3c=panel_output("fig3c", "png"),
        fig3c_pdf=panel_output("fig3c", "pdf"),
        fig3d=panel_output("fig3d", "png"),
        fig3d_pdf=panel_output("fig3d", "pdf"),
        table=panel_file("fig3bcd", "tsv"),
    log:
        "logs/figures/figure_3bcd.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("timing"),
    script:
        "../../scripts/figure_3bcd.py"


# --- Figure 4: feature embeddings ---------------------------------------------------


rule figure_4b:
    input:
        adata=lambda w: figure_model_output("hub"),
    output:
        fig4b=panel_output("fig4b", "png"),
        fig4b_pdf=panel_output("fig4b", "pdf"),
    log:
        "logs/figures/figure_4b.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("hub"),
        model=FIGURE_MODEL,
    script:
        "../../scripts/figure_4b.py"


rule figure_4cd:
    input:
        adata=lambda w: figure_model_output("embedding"),
        markers=lambda w: dataset_file("embedding", "markers/markers.tsv"),
    output:
        fig4c=panel_output("fig4c", "png"),
        fig4c_pdf=panel_output("fig4c", "pdf"),
        fig4d=panel_output("fig4d", "png"),
        fig4d_pdf=panel_output("fig4d", "pdf"),
    log:
        "logs/figures/figure_4cd.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("embedding"),
        label_key=lambda w: dataset_entry(figure_dataset("embedding"))["label_key"],
        model=FIGURE_MODEL,
        seed=config["seed"],
    script:
        "../../scripts/figure_4cd.py"


# --- Figure 5: hubs and neighbours versus network inference -------------------------


rule figure_5:
    input:
        centrality=lambda w: dataset_file("network", "network/centrality.tsv"),
        accuracy=lambda w: dataset_file("network", "network/neighbour_accuracy.tsv"),
        jaccard=lambda w: dataset_file("network", "network/jaccard.tsv"),
        correlation=lambda w: dataset_file("network", "network/mean_correlation.tsv"),
    output:
        fig5a=panel_output("fig5a", "png"),
        fig5a_pdf=panel_output("fig5a", "pdf"),
        fig5b=panel_output("fig5b", "png"),
        fig5b_pdf=panel_output("fig5b", "pdf"),
        fig5c=panel_output("fig5c", "png"),
        fig5c_pdf=panel_output("fig5c", "pdf"),
        fig5d=panel_output("fig5d", "png"),
        fig5d_pdf=panel_output("fig5d", "pdf"),
        fig5e=panel_output("fig5e", "png"),
        fig5e_pdf=panel_output("fig5e", "pdf"),
    log:
        "logs/figures/figure_5.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("network"),
        seed=config["seed"],
    script:
        "../../scripts/figure_5.py"


# --- Figure 6: networks across cell lines / donors ----------------------------------


rule figure_6bcd:
    input:
        group_embedding=lambda w: dataset_file("cohort", "cohort/group_embedding.tsv"),
        centrality_phenotype=lambda w: dataset_file(
            "cohort", "cohort/centrality_phenotype.tsv"
        ),
        edges=lambda w: dataset_file("cohort", "cohort/edges.tsv"),
        data=lambda w: dataset_file("cohort", "preprocessed.h5ad"),
        gene_sets=lambda w: figure_gene_sets("cohort"),
    output:
        fig6b=panel_output("fig6b", "png"),
        fig6b_pdf=panel_output("fig6b", "pdf"),
        fig6c=panel_output("fig6c", "png"),
        fig6c_pdf=panel_output("fig6c", "pdf"),
        fig6d=panel_output("fig6d", "png"),
        fig6d_pdf=panel_output("fig6d", "pdf"),
    log:
        "logs/figures/figure_6bcd.log",
    conda:
        "../../envs/cohort.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("cohort"),
        entry=lambda w: dataset_entry(figure_dataset("cohort")),
        settings=config["cohort"],
    script:
        "../../scripts/figure_6.py"


rule figure_6ef:
    input:
        group_embedding=lambda w: dataset_file(
            "case_control", "cohort/group_embedding.tsv"
        ),
        edges=lambda w: dataset_file("case_control", "cohort/edges.tsv"),
        data=lambda w: dataset_file("case_control", "preprocessed.h5ad"),
        gene_sets=lambda w: figure_gene_sets("case_control"),
    output:
        fig6e=panel_output("fig6e", "png"),
        fig6e_pdf=panel_output("fig6e", "pdf"),
        fig6e_table=panel_file("fig6e", "tsv"),
        fig6f=panel_output("fig6f", "png"),
        fig6f_pdf=panel_output("fig6f", "pdf"),
    log:
        "logs/figures/figure_6ef.log",
    conda:
        "../../envs/cohort.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("case_control"),
        entry=lambda w: dataset_entry(figure_dataset("case_control")),
        settings=config["cohort"],
    script:
        "../../scripts/figure_6.py"


# --- Supplementary figures ----------------------------------------------------------


rule figure_S5:
    input:
        gamma_sweep=lambda w: dataset_file("embedding", "gamma_sweep/gamma_sweep.tsv"),
        knn=lambda w: dataset_file("embedding", "embedding/knn_accuracy.tsv"),
    output:
        figS5=panel_output("figS5", "png"),
        figS5_pdf=panel_output("figS5", "pdf"),
    log:
        "logs/figures/figure_S5.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("embedding"),
    script:
        "../../scripts/figure_supplementary.py"


rule figure_S11:
    input:
        adata=lambda w: figure_model_output("hub"),
    output:
        figS11=panel_output("figS11", "png"),
        figS11_pdf=panel_output("figS11", "pdf"),
    log:
        "logs/figures/figure_S11.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("hub"),
        model=FIGURE_MODEL,
    script:
        "../../scripts/figure_supplementary.py"


rule figure_S24:
    input:
        feature_input=lambda w: dataset_file(
            "embedding", "feature_input/feature_input.tsv"
        ),
    output:
        figS24=panel_output("figS24", "png"),
        figS24_pdf=panel_output("figS24", "pdf"),
    log:
        "logs/figures/figure_S24.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("embedding"),
    script:
        "../../scripts/figure_supplementary.py"


rule figure_S25:
    input:
        histories=lambda w: panel_inputs("figS25"),
    output:
        figS25=panel_output("figS25", "png"),
        figS25_pdf=panel_output("figS25", "pdf"),
    log:
        "logs/figures/figure_S25.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset=lambda w: figure_dataset("embedding"),
        models=lambda w: embedding_model_names(figure_dataset("embedding")),
    script:
        "../../scripts/figure_supplementary.py"


# --- the paper-versus-ours table ----------------------------------------------------


rule figures_table:
    input:
        figures_table_inputs,
    output:
        report(
            "results/figures.tsv",
            caption="../report/figures_table.rst",
            category="Paper versus ours",
        ),
    log:
        "logs/figures/figures_table.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        rows=lambda w: figures_table_rows(),
    script:
        "../../scripts/figures_table.py"
