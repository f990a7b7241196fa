#!/usr/bin/env bash
# The maze checkpoint (docs/model-card-maze.md): a curriculum over maze sizes, each leg starting from the one before
# with --init-from (2-D rotary tables: a model of small grids runs on large ones), ending on 30x30 mazes.
#
#   recipes/maze.sh train DIR      # the four legs, in DIR/leg1 .. DIR/leg4 (a leg already done is skipped)
#   recipes/maze.sh export DIR OUT.safetensors  # the last leg's newest checkpoint in bf16, as shipped
#   recipes/maze.sh eval CKPT OUT  # on the held-out hard set, data/maze-hard-test.csv: JSON files in OUT
#   recipes/maze.sh test-set       # data/maze-hard-test.csv itself: 1,000 hard mazes (435 s on 2 cores)
#
# The shipped file is these legs on one H200: 2,891 + 3,902 + 4,000 + 3,770 steps, 21 minutes in all (the first
# leg shared the GPU with another run). Leg 1 is stage 0 of a region curriculum (8x8 mazes walled in at a random
# place of the 30x30 grid); legs 2 and 3 are 12x12 and 20x20 mazes with any path; leg 4 is 30x30 mazes whose
# shortest path has 40 steps or more (the hard filter's 111 keeps too few mazes a second to feed the trainer).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
newest() { $PY -c "import sys; from pathlib import Path; from src.hrm.training.run import latest_checkpoint; print(latest_checkpoint(Path(sys.argv[1])))" "$1"; }
mode=$1
case $mode in
train)
    dir=$2
    T="$PY -m src.hrm.train --task maze --seed 42 --compile on --log-format none --checkpoint-every 1000 --keep-checkpoints 1"
    [ -d "$dir/leg1" ] || $T --out-dir "$dir/leg1" --maze-size 30 --region-curriculum 8,12,16,20,25 --batch-size 128 \
        --max-steps 2891
    [ -d "$dir/leg2" ] || $T --out-dir "$dir/leg2" --maze-size 12 --min-path 0 --batch-size 512 --max-steps 3902 \
        --init-from "$(newest "$dir/leg1")"
    [ -d "$dir/leg3" ] || $T --out-dir "$dir/leg3" --maze-size 20 --min-path 0 --batch-size 256 --max-steps 4000 \
        --init-from "$(newest "$dir/leg2")"
    [ -d "$dir/leg4" ] || $T --out-dir "$dir/leg4" --maze-size 30 --min-path 40 --batch-size 128 --max-steps 3770 \
        --init-from "$(newest "$dir/leg3")" ;;
export)  # export DIR OUT.safetensors: leg 4's newest checkpoint in bf16
    $PY - "$(newest "$2/leg4")" "$3" <<'PYEOF'
import sys
import torch
from src.hrm.checkpoint import load_model, read_metadata, save_model
path = sys.argv[1]
meta = read_metadata(path)
save_model(load_model(path), sys.argv[2], dtype=torch.bfloat16,
           metadata={key: meta[key] for key in ("step", "task") if key in meta})
print(f"wrote {sys.argv[2]} from {path}")
PYEOF
    ;;
eval)
    ckpt=$2 out=$3
    mkdir -p "$out"
    $PY -m src.hrm.evaluate "$ckpt" --data data/maze-hard-test.csv --json > "$out/eval-hard.json"
    $PY -m src.hrm.evaluate "$ckpt" --data data/maze-hard-test.csv --views 8 --json > "$out/eval-hard-views8.json"
    $PY -m src.hrm.evaluate "$ckpt" --num 1000 --min-path 40 --seed 7 --json > "$out/eval-40.json" ;;
test-set)  # seed 2026 and make_dataset's stream: no training run draws these mazes
    $PY -m src.hrm.make_dataset --task maze --out data/maze-hard-test.csv --num 1000 --seed 2026 ;;
*)
    echo "usage: $0 train DIR | export DIR OUT | eval CKPT OUT | test-set" >&2
    exit 2 ;;
esac
