# Gene co-expression networks (Fig. 5): GCN inference on the data and on data sampled
# from siVAE (siVAE-GCN), ground-truth degree centrality, and the neighbour benchmark.


rule gcn_weights:
    input:
        unpack(gcn_inputs),
    output:
        "results/{dataset}/network/weights/{method}.npy",
    log:
        "logs/gcn_weights/{dataset}/{method}.log",
    benchmark:
        "benchmarks/out/gcn_weights/{dataset}/{method}.tsv"
    conda:
        "../../envs/networks.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=720,
    params:
        settings=config["network"],
        variant=lambda w: model_settings(w.dataset, config["network"]["model"])[
            "variant"
        ],
        seed=config["seed"],
    script:
        "../../scripts/gcn_weights.py"


rule true_centrality:
    input:
        "results/{dataset}/preprocessed.h5ad",
    output:
        "results/{dataset}/network/true_centrality.tsv",
    log:
        "logs/true_centrality/{dataset}.log",
    benchmark:
        "benchmarks/out/true_centrality/{dataset}.tsv"
    conda:
        "../../envs/networks.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=720,
        gpu=GPU,
    params:
        settings=config["network"]["true_centrality"],
        seed=config["seed"],
    script:
        "../../scripts/true_centrality.py"


rule network_benchmark:
    input:
        unpack(network_inputs),
    output:
        centrality=report(
            "results/{dataset}/network/centrality.tsv",
            caption="../report/centrality.rst",
            category="Gene networks",
        ),
        neighbours="results/{dataset}/network/neighbours.tsv",
        accuracy="results/{dataset}/network/neighbour_accuracy.tsv",
        jaccard="results/{dataset}/network/jaccard.tsv",
        correlation="results/{dataset}/network/mean_correlation.tsv",
    log:
        "logs/network_benchmark/{dataset}.log",
    benchmark:
        "benchmarks/out/network_benchmark/{dataset}.tsv"
    conda:
        "../../envs/networks.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=720,
    params:
        methods=network_methods(),
        settings=config["network"],
        seed=config["seed"],
    script:
        "../../scripts/network_benchmark.py"
