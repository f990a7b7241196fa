#!/usr/bin/env bash
# Fine-tuning legs of the one-guess methods from the hard checkpoint (docs/training.md, "Options beyond the
# original"): the same data, seed and wall-clock budget for each, scored on data/sudoku-few-givens-test.csv.
#
#   recipes/one_guess_ab.sh data DIR              # the training pool, in DIR (about 3 minutes on 16 cores)
#   recipes/one_guess_ab.sh legs DIR OUT MINUTES  # the four legs side by side on one GPU, into OUT
#   recipes/one_guess_ab.sh more DIR OUT MINUTES  # every leg MINUTES further (resumed, not restarted)
#
# The pool: minimal puzzles with 17-23 givens (the test set's kind), mined puzzles rated 10 and more, and the
# generator's extreme ones; seeds of its own (the test set's are 2026 and 2027, so no grid is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mode=$1 dir=$2
mkdir -p "$dir"
case $mode in
data)
    [ -f "$dir/minimal.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/minimal.csv" --num ${MINIMAL_NUM:-1200} \
        --givens 17-23 --seed 11 --workers ${MINIMAL_WORKERS:-8} &
    [ -f "$dir/mined.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/mined.csv" --num ${MINED_NUM:-8000} \
        --min-rating 10 --seed 12 --workers ${MINED_WORKERS:-6}
    [ -f "$dir/extreme.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/extreme.csv" --num ${EXTREME_NUM:-8000} \
        --difficulty extreme --seed 13 --workers 2
    wait
    { head -n 1 "$dir/mined.csv"; for f in minimal mined extreme; do tail -n +2 "$dir/$f.csv"; done; } \
        > "$dir/pool.csv.tmp" && mv "$dir/pool.csv.tmp" "$dir/pool.csv"
    ;;
legs | more)
    out=$3 minutes=$4
    $PY bench/options_ab.py --out "$out" --parallel 4 --minutes "$minutes" --compile on --total-minutes 600 \
        --common "--task sudoku-dataset --data $dir/pool.csv --init-from checkpoints/hrm-act-sudoku-hard.safetensors" \
        --test-data data/sudoku-few-givens-test.csv --extreme 500 --mined 100 $([ "$mode" = more ] && echo --more) \
        --variant base: --variant ema:"--ema 0.999" --variant muon:"--optimizer muon" \
        --variant wta:"--latent-copies 4"
    ;;
*)
    echo "usage: $0 data DIR | legs DIR OUT MINUTES | more DIR OUT MINUTES" >&2
    exit 2
    ;;
esac
