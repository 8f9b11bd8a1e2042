# Model training through the `sivae train` command line (one code path for every
# variant): whole datasets, and one model per cohort bin (fan-out of the checkpoint).


rule train_model:
    input:
        train_input,
    output:
        adata="results/{dataset}/models/{model}/adata.h5ad",
        model=directory("results/{dataset}/models/{model}/model"),
        history="results/{dataset}/models/{model}/history.tsv",
    log:
        "logs/train_model/{dataset}/{model}.log",
    benchmark:
        "benchmarks/out/train_model/{dataset}/{model}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=720,
        gpu=GPU,
    params:
        settings=lambda w: model_settings(w.dataset, w.model),
        device=config["device"],
        seed=config["seed"],
    script:
        "../../scripts/train_model.py"


rule train_bin:
    input:
        "results/{dataset}/bins/{group}/{bin}.h5ad",
    output:
        adata="results/{dataset}/cohort/bins/{group}/{bin}/adata.h5ad",
        history="results/{dataset}/cohort/bins/{group}/{bin}/history.tsv",
    log:
        "logs/train_bin/{dataset}/{group}/{bin}.log",
    benchmark:
        "benchmarks/out/train_bin/{dataset}/{group}/{bin}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU,
    params:
        settings=lambda w: model_settings(w.dataset, config["cohort"]["model"]),
        device=config["device"],
        seed=config["seed"],
    script:
        "../../scripts/train_model.py"
