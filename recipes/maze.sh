#!/usr/bin/env bash
# The maze checkpoint (docs/model-card-maze.md): a curriculum over maze sizes, each leg starting from the one before
# with --init-from (2-D rotary tables: a model of small grids runs on large ones), then two legs on a pool of hard
# 30x30 mazes (shortest path of 111 steps or more, Maze-Hard's filter).
#
#   recipes/maze.sh pool DIR       # the hard pools, DIR/pool5.csv (3,300 mazes) and DIR/pool6.csv (8,800), from
#                                  # make_dataset seeds no evaluation uses (about 15 min on 16 cores, an hour on 2)
#   recipes/maze.sh train DIR      # the six legs, in DIR/leg1 .. DIR/leg6 (a leg already done is skipped)
#   recipes/maze.sh export DIR OUT.safetensors  # the last leg's newest checkpoint in bf16, as shipped
#   recipes/maze.sh eval CKPT OUT  # on the held-out hard set, data/maze-hard-test.csv: JSON files in OUT
#   recipes/maze.sh test-set       # the held-out sets: data/maze-hard-test.csv, 1,000 hard mazes (435 s on 2 cores),
#                                  # and data/maze-backtracker-test.csv, 500 hard perfect mazes (a second)
#
# The shipped file is these legs on one H200: 2,891 + 3,902 + 4,000 + 3,770 + 5,314 + 2,500 steps, 32 minutes in
# all (the first leg shared the GPU with another run). Leg 1 is stage 0 of a region curriculum (8x8 mazes walled in
# at a random place of the 30x30 grid); legs 2 and 3 are 12x12 and 20x20 mazes with any path; leg 4 is 30x30 mazes
# whose shortest path has 40 steps or more (generated as the run goes: the hard filter keeps too few mazes a second
# to feed the trainer). Legs 5 and 6 train on the hard pools, every maze seen through the square's 8 symmetries.
# Each leg starts from the bf16 export of the one before, as the shipped legs did.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
newest() { $PY -c "import sys; from pathlib import Path; from src.hrm.training.run import latest_checkpoint; print(latest_checkpoint(Path(sys.argv[1])))" "$1"; }
bf16() {  # bf16 SRC OUT: a checkpoint's weights in bf16, with its step and task
    $PY - "$1" "$2" <<'PYEOF'
import sys
import torch
from src.hrm.checkpoint import load_model, read_metadata, save_model
path = sys.argv[1]
meta = read_metadata(path)
save_model(load_model(path), sys.argv[2], dtype=torch.bfloat16,
           metadata={key: meta[key] for key in ("step", "task") if key in meta})
print(f"wrote {sys.argv[2]} from {path}")
PYEOF
}
merge() {  # merge OUT IN...: one CSV of the files' rows, in order, under the first file's header
    { head -n 1 "$2"; for f in "${@:2}"; do tail -n +2 "$f"; done; } > "$1.tmp" && mv "$1.tmp" "$1"
}
mode=$1
case $mode in
pool)
    dir=$2
    mkdir -p "$dir/pool"
    MD="$PY -m src.hrm.make_dataset --task maze"
    for seed in $(seq 101 111); do
        [ -f "$dir/pool/$seed.csv" ] || $MD --num 300 --seed "$seed" --out "$dir/pool/$seed.csv"
    done
    [ -f "$dir/pool/202.csv" ] || $MD --num 3000 --seed 202 --out "$dir/pool/202.csv"
    [ -f "$dir/pool/203.csv" ] || $MD --num 2500 --seed 203 --out "$dir/pool/203.csv"
    merge "$dir/pool5.csv" "$dir"/pool/1??.csv
    merge "$dir/pool6.csv" "$dir"/pool/1??.csv "$dir/pool/202.csv" "$dir/pool/203.csv" ;;
train)
    dir=$2
    T="$PY -m src.hrm.train --task maze --seed 42 --compile on --log-format none --checkpoint-every 500 --keep-checkpoints 1"
    [ -d "$dir/leg1" ] || $T --out-dir "$dir/leg1" --maze-size 30 --region-curriculum 8,12,16,20,25 --batch-size 128 \
        --max-steps 2891
    [ -d "$dir/leg2" ] || $T --out-dir "$dir/leg2" --maze-size 12 --min-path 0 --batch-size 512 --max-steps 3902 \
        --init-from "$(newest "$dir/leg1")"
    [ -d "$dir/leg3" ] || $T --out-dir "$dir/leg3" --maze-size 20 --min-path 0 --batch-size 256 --max-steps 4000 \
        --init-from "$(newest "$dir/leg2")"
    [ -d "$dir/leg4" ] || $T --out-dir "$dir/leg4" --maze-size 30 --min-path 40 --batch-size 128 --max-steps 3770 \
        --init-from "$(newest "$dir/leg3")"
    for leg in 5 6; do
        [ -f "$dir/pool$leg.csv" ] || { echo "$dir/pool$leg.csv is missing: run $0 pool $dir first" >&2; exit 2; }
    done
    [ -f "$dir/leg4.safetensors" ] || bf16 "$(newest "$dir/leg4")" "$dir/leg4.safetensors"
    [ -d "$dir/leg5" ] || $T --out-dir "$dir/leg5" --maze-size 30 --data "$dir/pool5.csv" --batch-size 128 \
        --max-steps 5314 --init-from "$dir/leg4.safetensors"
    [ -f "$dir/leg5.safetensors" ] || bf16 "$(newest "$dir/leg5")" "$dir/leg5.safetensors"
    [ -d "$dir/leg6" ] || $T --out-dir "$dir/leg6" --maze-size 30 --data "$dir/pool6.csv" --batch-size 128 \
        --max-steps 2500 --init-from "$dir/leg5.safetensors" ;;
export)  # export DIR OUT.safetensors: the last leg's newest checkpoint in bf16
    bf16 "$(newest "$2/leg6")" "$3" ;;
eval)
    ckpt=$2 out=$3
    mkdir -p "$out"
    $PY -m src.hrm.evaluate "$ckpt" --data data/maze-hard-test.csv --json > "$out/eval-hard.json"
    $PY -m src.hrm.evaluate "$ckpt" --data data/maze-hard-test.csv --views 8 --json > "$out/eval-hard-views8.json"
    $PY -m src.hrm.evaluate "$ckpt" --num 1000 --min-path 40 --seed 7 --json > "$out/eval-40.json"
    $PY -m src.hrm.evaluate "$ckpt" --data data/maze-backtracker-test.csv --json > "$out/eval-backtracker.json" ;;
test-set)  # seeds 2026, 2027 and make_dataset's stream: no training run draws these mazes
    $PY -m src.hrm.make_dataset --task maze --out data/maze-hard-test.csv --num 1000 --seed 2026
    $PY -m src.hrm.make_dataset --task maze --maze-kinds backtracker --out data/maze-backtracker-test.csv --num 500 \
        --seed 2027 ;;
*)
    echo "usage: $0 pool DIR | train DIR | export DIR OUT | eval CKPT OUT | test-set" >&2
    exit 2 ;;
esac
