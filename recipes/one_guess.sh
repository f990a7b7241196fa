#!/usr/bin/env bash
# The one-guess Sudoku checkpoint (docs/model-card-one-guess.md): the hard checkpoint fine-tuned with a moving
# average of its weights on a pool with few-givens minimal puzzles.
#
#   recipes/one_guess.sh data DIR             # the training pool (recipes/one_guess_ab.sh data), about 2 minutes
#   recipes/one_guess.sh train DIR RUN MINUTES # a leg: RUN started from the hard checkpoint, or resumed if it exists
#   recipes/one_guess.sh export RUN OUT.safetensors  # its newest checkpoint in bf16, as shipped
#   recipes/one_guess.sh eval CKPT OUT         # the model card's numbers, as JSON files in OUT
#
# The shipped file is the ema-seg32 leg of recipes/one_guess_ab.sh's second comparison (the moving average and a
# trained segment limit of 32), 12 minutes of training in two invocations (5 and 7 minutes) that shared the GPU
# with the comparison's three other legs, stored in bf16 by `export`. `train` starts the same run alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mode=$1
case $mode in
data)
    recipes/one_guess_ab.sh data "$2" ;;
train)
    dir=$2 run=$3 minutes=$4
    if [ -d "$run" ]; then
        $PY -m src.hrm.train --resume --out-dir "$run" --max-minutes "$minutes" --log-format none \
            --checkpoint-every 1000000 --keep-checkpoints 1 --compile on
    else
        $PY -m src.hrm.train --task sudoku-dataset --data "$dir/pool.csv" --out-dir "$run" \
            --init-from checkpoints/hrm-act-sudoku-hard.safetensors --ema 0.999 --halt-max-steps 32 --seed 42 --max-minutes "$minutes" \
            --log-format none --checkpoint-every 1000000 --keep-checkpoints 1 --compile on
    fi ;;
export)  # export RUN OUT.safetensors: the run's newest checkpoint (its averages) in bf16
    $PY - "$2" "$3" <<'PYEOF'
import sys
import torch
from src.hrm.checkpoint import load_model, read_metadata, save_model
from src.hrm.training.run import latest_checkpoint
from pathlib import Path
path = latest_checkpoint(Path(sys.argv[1]))
meta = read_metadata(path)
save_model(load_model(path), sys.argv[2], dtype=torch.bfloat16,
           metadata={key: meta[key] for key in ("step", "task", "weights") if key in meta})
print(f"wrote {sys.argv[2]} from {path}")
PYEOF
    ;;
eval)
    ckpt=$2 out=$3
    mkdir -p "$out"
    E="$PY -m src.hrm.evaluate $ckpt --batch-size 2048 --json"
    $E --data data/sudoku-few-givens-test.csv > "$out/eval-few-givens.json"
    $E --data data/sudoku-few-givens-test.csv --views 16 > "$out/eval-few-givens-views16.json"
    $E --data data/sudoku-mined-test.csv --rating-buckets 10,50 > "$out/eval-mined.json"
    $E --difficulty easy,medium,hard,extreme --num 1000 --seed 5 > "$out/eval-generated.json" ;;
*)
    echo "usage: $0 data DIR | train DIR RUN MINUTES | export RUN OUT | eval CKPT OUT" >&2
    exit 2 ;;
esac
