# Cohort analyses (Fig. 6): per-bin gene embeddings -> WL-kernel group embedding,
# centrality-phenotype association, GSEA and edge tests.


rule cohort_analysis:
    input:
        data="results/{dataset}/preprocessed.h5ad",
        bins=cohort_bin_models,
        gene_sets=gene_sets_input,
    output:
        group_embedding=report(
            "results/{dataset}/cohort/group_embedding.tsv",
            caption="../report/group_embedding.rst",
            category="Cohort",
        ),
        centrality="results/{dataset}/cohort/centrality.tsv",
        centrality_phenotype="results/{dataset}/cohort/centrality_phenotype.tsv",
        gsea=report(
            "results/{dataset}/cohort/gsea.tsv",
            caption="../report/gsea.rst",
            category="Cohort",
        ),
        edges="results/{dataset}/cohort/edges.tsv",
    log:
        "logs/cohort_analysis/{dataset}.log",
    benchmark:
        "benchmarks/out/cohort_analysis/{dataset}.tsv"
    conda:
        "../../envs/cohort.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=240,
    params:
        entry=lambda w: require_keys(w.dataset, "cohort"),
        settings=config["cohort"],
        seed=config["seed"],
    script:
        "../../scripts/cohort_analysis.py"
