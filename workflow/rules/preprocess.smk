# QC, normalisation, log1p, HVG selection, regress_out, downsampling, train/test split
# and per-gene scaling, all from datasets.<name>.preprocess (Methods, Data availability).


rule preprocess:
    input:
        "results/{dataset}/raw.h5ad",
    output:
        "results/{dataset}/preprocessed.h5ad",
    log:
        "logs/preprocess/{dataset}.log",
    benchmark:
        "benchmarks/out/preprocess/{dataset}.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=16000,
        runtime=120,
    params:
        entry=lambda w: dataset_entry(w.dataset),
        seed=config["seed"],
    script:
        "../../scripts/preprocess.py"
