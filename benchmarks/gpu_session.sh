#!/usr/bin/env bash
# Every GPU check and benchmark of issues #3, #4 and #8 in one bounded run, for a
# session that is lent a GPU for a few minutes; figures are written to results.md.
#
#   bash benchmarks/gpu_session.sh                      # every step
#   bash benchmarks/gpu_session.sh atlas_run pbmc_knn   # some steps
#
# Each step has its own time limit, so one slow or failing step cannot hide the
# others. Everything it prints goes to $OUT/session.log and the tables the scripts
# append to benchmarks/results.md are copied to $OUT/results.md.
#
# On a machine without network, missing Python packages are installed from wheels
# in .whl/ (git-ignored), made beforehand with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d DIR PKG==VER
# .whl/*.whl       anndata and what it needs (array-api-compat, legacy-api-wrap, natsort,
#                  zarr, numcodecs, donfig, google-crc32c, scverse-misc, session-info2), captum
# .whl/opt/*.whl   scvi-tools and what it needs (the optional peer; scanpy, mudata, pyro-ppl, ...)
# .whl/pandas/     pandas < 3 (+ pytz, tzdata), used only when the machine has pandas 3
# .whl/pbmc68k_reduced.h5ad   from `python benchmarks/pbmc_knn_claim.py --export` (needs scanpy)
set -u
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOG="$OUT/session.log"
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT/workflow/lib${PYTHONPATH:+:$PYTHONPATH}"
# the session's commit when the copy has no .git (benchmarks/_stamp.py reads it)
export SIVAE_COMMIT=${SIVAE_COMMIT:-}

STEPS=" ${*:-atlas_steps attribution_timing batched_bins train_throughput atlas_run pbmc_knn} "
wanted() { [[ "$STEPS" == *" $1 "* ]]; }

step() {  # step NAME LIMIT_S COMMAND...
    local name=$1 limit=$2
    shift 2
    wanted "$name" || return 0
    echo "=== $name (limit ${limit} s) $(date +%T)" | tee -a "$LOG"
    (cd "$ROOT/benchmarks" && timeout "$limit" "$@") >>"$LOG" 2>&1
    echo "=== $name exit $? $(date +%T)" | tee -a "$LOG"
    cp "$ROOT/benchmarks/results.md" "$OUT/results.md"  # what is done comes back even if cut off
}

if [ -d "$ROOT/.whl" ] && [ ! -d /tmp/site ]; then
    wheels=("$ROOT"/.whl/*.whl "$ROOT"/.whl/opt/*.whl)
    if python3 -c 'import pandas, sys; sys.exit(int(pandas.__version__[0]) < 3)' 2>/dev/null; then
        wheels+=("$ROOT"/.whl/pandas/*.whl)  # anndata needs pandas < 3
    fi
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "${wheels[@]}" >>"$LOG" 2>&1
fi
[ -d /tmp/site ] && export PYTHONPATH="/tmp/site:$PYTHONPATH"

{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    python3 -c 'import torch, anndata, sivae; print("torch", torch.__version__, "anndata", anndata.__version__)'
    python3 -c 'import scvi; print("scvi-tools", scvi.__version__)' 2>&1 | tail -1
} 2>&1 | tee -a "$LOG"

# issues #3 and #8 a/b: joint-stage step at the LargeBrainAtlas and small shapes (#3: 20.7 ms H100 reference)
step atlas_steps 180 python3 atlas_scale.py --parts a,b --variants eager,compiled,cudagraph
# issue #3: cells/s per stage at both paper shapes, scvi-tools' SCVI as the peer
step train_throughput 270 python3 train_throughput.py --device cuda --compile
# issue #4: attribution timing at K=20, F=27998 (forward-mode Jacobian vs reverse mode)
step attribution_timing 50 python3 attribution_timing.py --device cuda --cells 2048 --methods-reverse ""
# issue #8: 32 bins at once vs one at a time
step batched_bins 60 python3 batched_bins.py --device cuda
# issue #8 c: three stages on a 1.3M-cell backed sparse .h5ad
step atlas_run 200 python3 atlas_scale.py --parts c --workers 14 --data /tmp/atlas.h5ad
# issue #3: k-NN claim at the original schedule, 8 seeds x 4 models in parallel
if wanted pbmc_knn && [ -f "$ROOT/.whl/pbmc68k_reduced.h5ad" ]; then
    echo "=== pbmc_knn (limit 120 s) $(date +%T)" | tee -a "$LOG"
    for seed in 0 1 2 3 4 5 6 7; do
        for variant in "siVAE" "siVAE (gamma=0)" "VAE" "VAE-linear"; do
            printf '%s\0%s\0' "$seed" "$variant"
        done
    done | (cd "$ROOT/benchmarks" && timeout 120 xargs -0 -n 2 -P 16 sh -c \
        'python3 pbmc_knn_claim.py --input ../.whl/pbmc68k_reduced.h5ad --device cuda \
         --precision fp32 --seeds "$0" --variants "$1" --no-write 2>&1 | grep -E "seed [0-9]|Error"') \
        | tee -a "$LOG"
    echo "=== pbmc_knn done $(date +%T)" | tee -a "$LOG"
fi
cp "$ROOT/benchmarks/results.md" "$OUT/results.md"
grep -E "^=== .* exit" "$LOG"
