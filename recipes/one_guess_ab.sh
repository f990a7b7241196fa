#!/usr/bin/env bash
# Fine-tuning legs of the one-guess methods from the hard checkpoint (docs/training.md, "Options beyond the
# original"): the same data, seed and wall-clock budget for each, scored on data/sudoku-few-givens-test.csv.
#
#   recipes/one_guess_ab.sh data DIR              # the training pool, in DIR (about 3 minutes on 16 cores)
#   recipes/one_guess_ab.sh legs DIR OUT MINUTES  # the four legs side by side on one GPU, into OUT
#   recipes/one_guess_ab.sh more DIR OUT MINUTES  # every leg MINUTES further (resumed, not restarted)
#
# LEGS picks the legs (four at a time share the GPU): the first comparison's, "base ema muon wta" (the default), or
# the second's, "ema muon-ema ema-seg32 ema-no-few": the moving average again, with Muon, with a trained segment
# limit of 32, and without the minimal puzzles in its pool (DIR/pool-no-minimal.csv).
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
    { head -n 1 "$dir/mined.csv"; for f in mined extreme; do tail -n +2 "$dir/$f.csv"; done; } \
        > "$dir/pool-no-minimal.csv.tmp" && mv "$dir/pool-no-minimal.csv.tmp" "$dir/pool-no-minimal.csv"
    ;;
legs | more)
    out=$3 minutes=$4
    declare -A flags=(
        [base]="" [ema]="--ema 0.999" [muon]="--optimizer muon" [wta]="--latent-copies 4"
        [muon-ema]="--optimizer muon --ema 0.999" [ema-seg32]="--ema 0.999 --halt-max-steps 32"
        [ema-no-few]="--ema 0.999 --data $dir/pool-no-minimal.csv"
    )
    variants=()
    for leg in ${LEGS:-base ema muon wta}; do
        [ -n "${flags[$leg]+set}" ] || { echo "unknown leg $leg: one of ${!flags[*]}" >&2; exit 2; }
        variants+=(--variant "$leg:${flags[$leg]}")
    done
    $PY bench/options_ab.py --out "$out" --parallel 4 --minutes "$minutes" --compile on --total-minutes 600 \
        --common "--task sudoku-dataset --data $dir/pool.csv --init-from checkpoints/hrm-act-sudoku-hard.safetensors" \
        --test-data data/sudoku-few-givens-test.csv --extreme 500 --mined 100 $([ "$mode" = more ] && echo --more) \
        "${variants[@]}"
    ;;
*)
    echo "usage: $0 data DIR | legs DIR OUT MINUTES | more DIR OUT MINUTES" >&2
    exit 2
    ;;
esac
