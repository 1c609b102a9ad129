#!/usr/bin/env bash
# A GPU session's work, in stages that each fit one 10-minute call of a lent GPU machine. The first three
# (about 9 minutes each: the shipped models and the GPU speed table) fill one 30-minute lease; speedrun
# (issue 12's 8-minute recipe) and selfsup (issue 10's table at a GPU budget) are for the next one.
#
#   here:    bash benchmarks/gpu_session.sh prepare ../shared/data [BENCH_OUT]  # data (and the baseline rows
#            of BENCH_OUT/self_supervised/gaussian-*ep/results.json, default benchmarks/out) into .gpu/,
#            which git ignores and `carry` takes along, and the wheels the GPU machine's image lacks
#            (pydantic and its parts, pypng) into .gpu/whl: carry it every time
#   device:  (each call: timeout_s 600 and carry [".gpu/whl", ".gpu/STAGE-DATA"], e.g. for gray
#            carry [".gpu/whl", ".gpu/gray"]; the command is the line below, nothing more)
#            bash benchmarks/gpu_session.sh gray    # carry .gpu/gray; train400, BSD68, Set12 (16 MB)
#            bash benchmarks/gpu_session.sh color   # carry .gpu/color; CBSD432 only (32 MB): CBSD68 is scored here
#            bash benchmarks/gpu_session.sh small   # carry .gpu/small; MNIST test set and the CIFAR-10 archive
#            bash benchmarks/gpu_session.sh speedrun  # carry .gpu/gray; the gray-8min preset from scratch, then
#                                                     # BSD68 and Set12 scores (about 9.5 minutes: timeout_s 600)
#            bash benchmarks/gpu_session.sh selfsup [ROWS]  # carry .gpu/gray and .gpu/selfsup: issue 10's
#                 Gaussian table at 60 epochs, rows supervised,n2n,ne2ne (default), n2v,n2v2 in a second call,
#                 ne2ne-gamma0,ne2ne-gamma0-128 (the ablations, Ne2Ne's best on the CPU) in a third;
#                 stopped after 8 minutes, keeping the rows done (BM3D's row comes from the carried results)
#   here:    tar -xzf FILES_AT/STAGE.tar.gz && git diff --stat   (then, after color, score CBSD68 here:
#            python benchmarks/pretrained_quality.py --data ../shared/data --only color-blind)
#
# Each stage trains the recipes in benchmarks/pretrained/gpu/ (their `minutes:` time budgets fit the call),
# installs the weights, measures what it can, and leaves in $OUT: STAGE.tar.gz (the stage's weights and cards,
# manifest.json, the README and the figures, as the stage left them), STAGE-runs.tar.gz (each run's best
# checkpoint, config and history: `train_pretrained.py --install NAME=RUN` installs one here), STAGE.log, and
# each run's history.csv. The device's copy of the checkout may have no .git, so the files travel whole:
# check `git diff` here before committing. A dry run on a CPU: DEVICE=cpu (it skips `pip install -e .`), in a
# copy of the checkout whose gpu/ recipes are made tiny (e.g. minutes 0.3, patch_size 32, patches_per_image 1).
set -euo pipefail
cd "$(dirname "$0")/.."
stage=${1:?usage: gpu_session.sh prepare DATA [BENCH_OUT] | gray | color | small | speedrun | selfsup [ROWS]}

if [ "$stage" = prepare ]; then
    data=${2:?give the data folder, e.g. ../shared/data}
    rm -rf .gpu && mkdir -p .gpu/gray/data/gray .gpu/color/data/color .gpu/small/data \
        .gpu/selfsup/self_supervised/gaussian-60ep
    cp -r "$data"/gray/train400 "$data"/gray/bsd68 "$data"/gray/set12 .gpu/gray/data/gray/
    cp -r "$data"/color/cbsd432 .gpu/color/data/color/
    cp -r "$data"/mnist "$data"/cifar10 .gpu/small/data/
    # the baseline rows (BM3D takes an hour of CPU) of any budget's table, without its learned rows
    for results in "${3:-benchmarks/out}"/self_supervised/gaussian-*ep/results.json; do
        [ -f "$results" ] || continue
        "${PYTHON:-python3}" -c 'import json, sys; r = json.load(open(sys.argv[1]))
json.dump({k: v for k, v in r.items() if "epochs" not in v}, open(sys.argv[2], "w"), indent=1)' \
            "$results" .gpu/selfsup/self_supervised/gaussian-60ep/results.json
        break
    done
    # the device runs Python 3.12 without these (see /work/.library/device/KINDS.md); versions as tested here
    "${PYTHON:-python3}" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .gpu/whl pydantic==2.14.3 pydantic-core==2.50.4 annotated-types==0.8.0 typing-inspection==0.4.5 \
        pypng==0.20220715.0
    du -sh .gpu/*
    exit 0
fi

out=${OUT:-/tmp/gpu-session}
device=${DEVICE:-cuda}  # DEVICE=cpu: a dry run of the stage's steps here (with tiny recipes)
mkdir -p "$out"
exec > >(tee "$out/$stage.log") 2>&1
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src:$PWD/benchmarks"
if [ -d .gpu/whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
if [ "$device" = cuda ]; then
    python3 -m pip install -q --no-deps -e . || echo "pip install -e . failed; using PYTHONPATH=src"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
data=".gpu/$stage/data"
case "$stage" in speedrun | selfsup) data=".gpu/gray/data" ;; esac

# Every step runs under a deadline (DEADLINE seconds after the start, 560 by default) so that the call ends
# inside its 600 s with its results packed: a step that fails or runs out of time is reported, the next one
# runs, and the EXIT trap packs whatever was done. A training stopped part-way leaves its best checkpoint in
# STAGE-runs.tar.gz: install it here with `python benchmarks/train_pretrained.py --install NAME=RUN`.
step() {
    local left=$(( ${DEADLINE:-560} - SECONDS ))
    if [ "$left" -le 5 ]; then echo "SKIPPED (no time left): $*"; return 0; fi
    timeout "$left" "$@" || echo "FAILED or stopped at the deadline (exit $?): $*"
}
models=()
pack() {
    local files=() run
    for name in "${models[@]}"; do files+=("src/noisefree/assets/pretrained/$name".*); done
    tar -czf "$out/$stage.tar.gz" "${files[@]}" src/noisefree/assets/pretrained/manifest.json README.md docs/figures
    local runs=()  # what --install and --resume need, without the optimizer state
    for run in benchmarks/out/pretrained/*/; do
        [ -f "$run/best.safetensors" ] || continue
        cp "$run/history.csv" "$out/$(basename "$run")-history.csv" 2>/dev/null || true
        for f in best.safetensors best.json config.yaml history.csv summary.json trained_on.txt; do
            [ -f "$run/$f" ] && runs+=("$run$f")
        done
    done
    [ ${#runs[@]} -gt 0 ] && tar -czf "$out/$stage-runs.tar.gz" "${runs[@]}"
    ls -l "$out"
}

case "$stage" in
    gray)
        models=(gray-blind); trap pack EXIT
        step python3 benchmarks/train_pretrained.py --data "$data" --recipes gpu --device "$device" --only gray-blind
        step python3 benchmarks/pretrained_quality.py --data "$data" --only gray-blind --no-figure
        step python3 benchmarks/speed.py --device "$device" ;;
    color)
        models=(color-blind); trap pack EXIT
        step python3 benchmarks/train_pretrained.py --data "$data" --recipes gpu --device "$device" --only color-blind ;;
    small)
        models=(mnist cifar10); trap pack EXIT
        step python3 benchmarks/train_pretrained.py --data "$data" --recipes gpu --device "$device" --only mnist,cifar10
        step python3 benchmarks/pretrained_quality.py --data "$data" --only mnist,cifar10 --no-figure ;;
    speedrun)
        python3 -m noisefree train --preset gray-8min --dataset "folder:$data/gray/train400" --device "$device" \
            --out benchmarks/out/speedrun
        run=$(ls -d benchmarks/out/speedrun/*/ | tail -1)
        cp "$run/history.csv" "$out/speedrun-history.csv"
        for set in bsd68 set12; do
            python3 -m noisefree benchmark --methods "$run" --dataset "folder:$data/gray/$set" --protocol standard \
                --sigma 15,25,50 --output "benchmarks/out/speedrun-$set" -q | tee "$out/speedrun-$set.txt"
        done ;;
    selfsup)
        timeout 480 python3 benchmarks/self_supervised.py --data "$data" --noise gaussian --epochs 60 --device "$device" \
            --only "${2:-supervised,n2n,ne2ne}" --out .gpu/selfsup --block selfsup-gaussian-60 \
            || echo "stopped at the time limit, or no selfsup-gaussian-60 block in the README; rows done are kept"
        tar -czf "$out/selfsup.tar.gz" .gpu/selfsup/self_supervised/gaussian-60ep ;;  # scores, table and runs
    *) echo "unknown stage $stage"; exit 2 ;;
esac
