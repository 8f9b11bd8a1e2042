# Analyses run only for a figure: marker genes per label (Fig. 4d), siVAE across
# interpretability weights γ (Fig. S5) and across feature-encoder inputs (Fig. S24).
# Training goes through `sivae train` like every other model.


wildcard_constraints:
    gamma=_alternatives(GAMMAS),
    feature_mode=_alternatives(FEATURE_MODES),


rule marker_genes:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        tsv="results/{dataset}/markers/markers.tsv",
        gmt="results/{dataset}/markers/markers.gmt",
    log:
        "logs/marker_genes/{dataset}.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        label_key=lambda w: require_keys(w.dataset, "embedding")["label_key"],
        settings=FIGURES["markers"],
    script:
        "../../scripts/marker_genes.py"


rule train_gamma:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        adata="results/{dataset}/gamma_sweep/gamma_{gamma}/adata.h5ad",
        model=directory("results/{dataset}/gamma_sweep/gamma_{gamma}/model"),
        history="results/{dataset}/gamma_sweep/gamma_{gamma}/history.tsv",
    log:
        "logs/train_gamma/{dataset}/{gamma}.log",
    benchmark:
        "benchmarks/out/train_gamma/{dataset}/{gamma}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=720,
        gpu=GPU,
    params:
        settings=lambda w: figure_model_settings(w.dataset, gamma=float(w.gamma)),
        device=config["device"],
        seed=config["seed"],
    script:
        "../../scripts/train_model.py"


rule gamma_sweep:
    input:
        data="results/{dataset}/preprocessed.h5ad",
        models=expand(
            "results/{{dataset}}/gamma_sweep/gamma_{gamma}/adata.h5ad", gamma=GAMMAS
        ),
    output:
        "results/{dataset}/gamma_sweep/gamma_sweep.tsv",
    log:
        "logs/gamma_sweep/{dataset}.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        gammas=GAMMAS,
        embedding=lambda w: embedding_settings(w.dataset),
        seed=config["seed"],
    script:
        "../../scripts/gamma_sweep.py"


rule train_feature_input:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        adata="results/{dataset}/feature_input/{feature_mode}/adata.h5ad",
        model=directory("results/{dataset}/feature_input/{feature_mode}/model"),
        history="results/{dataset}/feature_input/{feature_mode}/history.tsv",
    log:
        "logs/train_feature_input/{dataset}/{feature_mode}.log",
    benchmark:
        "benchmarks/out/train_feature_input/{dataset}/{feature_mode}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=720,
        gpu=GPU,
    params:
        settings=lambda w: figure_model_settings(w.dataset),
        n_feature_input=FIGURES["feature_input"]["n_feature_input"],
        labels_key=lambda w: dataset_entry(w.dataset)["label_key"],
        device=config["device"],
        seed=config["seed"],
    script:
        "../../scripts/train_feature_input.py"


rule feature_input:
    input:
        data="results/{dataset}/preprocessed.h5ad",
        models=expand(
            "results/{{dataset}}/feature_input/{mode}/adata.h5ad", mode=FEATURE_MODES
        ),
        histories=expand(
            "results/{{dataset}}/feature_input/{mode}/history.tsv", mode=FEATURE_MODES
        ),
    output:
        "results/{dataset}/feature_input/feature_input.tsv",
    log:
        "logs/feature_input/{dataset}.log",
    conda:
        "../../envs/model.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        modes=FEATURE_MODES,
        embedding=lambda w: embedding_settings(w.dataset),
        seed=config["seed"],
    script:
        "../../scripts/feature_input.py"
