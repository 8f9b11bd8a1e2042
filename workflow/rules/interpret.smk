# Interpretation of trained models: embedding accuracy (Fig. 2), loadings versus
# feature attribution and Gene Relevance (Fig. 3a), and execution time (Fig. 3b-d).


rule evaluate_embedding:
    input:
        data="results/{dataset}/preprocessed.h5ad",
        models=embedding_models,
    output:
        knn=report(
            "results/{dataset}/embedding/knn_accuracy.tsv",
            caption="../report/knn_accuracy.rst",
            category="Embedding",
        ),
        embeddings="results/{dataset}/embedding/embeddings.tsv",
    log:
        "logs/evaluate_embedding/{dataset}.log",
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        models=lambda w: embedding_model_names(w.dataset),
        label_key=lambda w: require_keys(w.dataset, "embedding")["label_key"],
        batch_key=lambda w: dataset_entry(w.dataset)["batch_key"],
        k=lambda w: dataset_entry(w.dataset)["knn_k"] or config["embedding"]["k"],
        n_splits=config["embedding"]["n_splits"],
        seed=config["seed"],
    script:
        "../../scripts/evaluate_embedding.py"


rule attribution:
    input:
        data="results/{dataset}/preprocessed.h5ad",
        adata=lambda w: model_output(w.dataset, config["attribution"]["model"]),
        model=lambda w: model_output(w.dataset, config["attribution"]["model"], "model"),
    output:
        loadings="results/{dataset}/attribution/loadings.tsv",
        agreement=report(
            "results/{dataset}/attribution/agreement.tsv",
            caption="../report/agreement.rst",
            category="Attribution",
        ),
    log:
        "logs/attribution/{dataset}.log",
    benchmark:
        "benchmarks/out/attribution/{dataset}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=720,
        gpu=GPU,
    params:
        settings=config["attribution"],
        variant=lambda w: model_settings(w.dataset, config["attribution"]["model"])[
            "variant"
        ],
        device=config["device"],
        seed=config["seed"],
    script:
        "../../scripts/attribution.py"


rule timing:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        report(
            "results/{dataset}/timing/timing.tsv",
            caption="../report/timing.rst",
            category="Execution time",
        ),
    log:
        "logs/timing/{dataset}.log",
    benchmark:
        "benchmarks/out/timing/{dataset}.tsv"
    conda:
        "../../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=1440,
        gpu=GPU,
    params:
        settings=lambda w: {
            **config["analyses"]["timing"],
            **dataset_entry(w.dataset).get("timing", {}),
        },
        models=lambda w: {
            m: model_settings(w.dataset, m)
            for m in config["analyses"]["timing"]["models"]
        },
        device=config["device"],
        seed=config["seed"],
    script:
        "../../scripts/timing.py"
