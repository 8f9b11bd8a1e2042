# Raw data: downloads (plain urllib, resumable, checksummed; no storage plugin so that
# a dry run never touches the network) and conversion of any source to raw.h5ad.


rule download:
    output:
        f"{DATA_DIR}/{{dataset}}/{{filename}}",
    log:
        "logs/download/{dataset}/{filename}.log",
    wildcard_constraints:
        dataset=_alternatives(URL_DATASETS),
        filename="[^/]+",
    retries: 2
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=720,
    params:
        source=download_params,
    script:
        "../../scripts/download.py"


rule load_dataset:
    input:
        raw_inputs,
    output:
        "results/{dataset}/raw.h5ad",
    log:
        "logs/load_dataset/{dataset}.log",
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=16000,
        runtime=120,
    params:
        entry=lambda w: dataset_entry(w.dataset),
        data_dir=DATA_DIR,
    script:
        "../../scripts/load_dataset.py"


rule manual_download:
    output:
        "{manual}",
    log:
        "logs/manual_download/{manual}.log",
    wildcard_constraints:
        manual=_alternatives(MANUAL_FILES),
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=100,
        runtime=1,
    params:
        message=lambda w: MANUAL_FILES[w.manual],
    shell:
        "echo {params.message:q} | tee {log} >&2; exit 1"
