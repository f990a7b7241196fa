#!/usr/bin/env bash
# The hard-puzzle Sudoku recipe (docs/model-card-hard.md): mined data, fine-tuning, evaluation.
#
#   recipes/hard_sudoku.sh data DIR            # the held-out test set and a training pool, in DIR
#   recipes/hard_sudoku.sh train DIR RUN INIT MINUTES [train flags...]
#                                              # a fine-tuning leg: a fresh run from INIT's weights
#   recipes/hard_sudoku.sh eval DIR CKPT       # the issue's numbers: mined buckets, generated difficulties
#
# Seeds 1-99 make training data; 1000 and 1001 make the test set and are never used for training.
# Legs chain through weights-only checkpoints (--init-from), so each fits one GPU lease.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mode=$1 dir=$2
mkdir -p "$dir"

join_csv() {  # join_csv OUT IN...: one header, every row
    local out=$1; shift
    { head -n 1 "$1"; for f in "$@"; do tail -n +2 "$f"; done; } > "$out.tmp" && mv "$out.tmp" "$out"
}

case $mode in
data)
    # Test set: one puzzle per solution grid, seeds of its own.
    [ -f "$dir/test-10-49.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/test-10-49.csv" --num ${TEST_NUM:-1000} \
        --min-rating 10 --max-rating 49 --per-chain 1 --seed 1000
    [ -f "$dir/test-50.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/test-50.csv" --num ${TEST_NUM:-1000} \
        --min-rating 50 --per-chain 1 --seed 1001
    join_csv "$dir/test.csv" "$dir/test-10-49.csv" "$dir/test-50.csv"
    # Training pool: the generator's own puzzles (what the shipped model learned) beside mined hard ones.
    for d in easy medium hard extreme; do
        [ -f "$dir/gen-$d.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/gen-$d.csv" --num ${GEN_NUM:-20000} \
            --difficulty $d --seed 1
    done
    [ -f "$dir/mined-10.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/mined-10.csv" --num ${MINED_NUM:-60000} \
        --min-rating 10 --max-rating 49 --seed 2
    [ -f "$dir/mined-50.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/mined-50.csv" --num ${HARD_NUM:-20000} \
        --min-rating 50 --seed 3
    join_csv "$dir/pool.csv" "$dir"/gen-*.csv "$dir/mined-10.csv" "$dir/mined-50.csv"
    # No test puzzle may be a training puzzle (or share its solution grid).
    $PY - "$dir" <<'PYEOF'
import csv, sys
from pathlib import Path
d = Path(sys.argv[1])
grids = lambda name: {row[2] for row in list(csv.reader(open(d / name)))[1:]}
shared = grids("test.csv") & grids("pool.csv")
print(f"test/pool: {len(grids('test.csv'))} test grids, {len(grids('pool.csv'))} pool grids, {len(shared)} shared")
sys.exit(1 if shared else 0)
PYEOF
    ;;
train)
    run=$3 init=$4 minutes=$5; shift 5
    $PY -m src.hrm.train --task sudoku-dataset --data "$dir/pool.csv" --out-dir "$run" --init-from "$init" \
        --max-minutes "$minutes" --checkpoint-every 1000 --keep-checkpoints 2 --log-format jsonl "$@" \
        | awk 'NR % 500 == 1' ;;
eval)
    ckpt=$3
    $PY -m src.hrm.evaluate "$ckpt" --data "$dir/test.csv" --rating-buckets 10,50 --batch-size 2048 --json \
        > "$dir/eval-mined.json"
    $PY -m src.hrm.evaluate "$ckpt" --difficulty easy,medium,hard,extreme --num 1000 --seed 5 --batch-size 2048 \
        --json > "$dir/eval-generated.json"
    $PY - "$dir" <<'PYEOF'
import json, sys
from pathlib import Path
d = Path(sys.argv[1])
for name in ("eval-mined.json", "eval-generated.json"):
    report = json.loads((d / name).read_text())
    groups = next((v for k, v in report.items() if k.startswith("per_") and isinstance(v, dict)), {})
    for group, m in {"all": report, **groups}.items():
        print(f"{name} {group:>10}: solved {m['act_solve_rate']:.1%} of {m['num_puzzles']}, segments"
              f" {m['mean_act_segments']:.1f}, Q-halt precision {m['q_halt_precision']:.2%}")
PYEOF
    ;;
*) echo "usage: $0 data|train|eval DIR ..." >&2; exit 2 ;;
esac
