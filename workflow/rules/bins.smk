# Equal-sized bins of cells per group (cell line / donor), Methods "Generating cell line
# embeddings": a checkpoint, because the number of bins is known only from the data.


checkpoint bins:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        directory("results/{dataset}/bins"),
    log:
        "logs/bins/{dataset}.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        group_key=lambda w: require_keys(w.dataset, "cohort")["group_key"],
        bin_size=lambda w: dataset_entry(w.dataset)["bins"]["bin_size"],
        seed=config["seed"],
    script:
        "../../scripts/write_bins.py"


rule bins_manifest:
    input:
        cohort_bin_inputs,
    output:
        "results/{dataset}/bins.tsv",
    log:
        "logs/bins_manifest/{dataset}.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/bins_manifest.py"
