#!/usr/bin/env bash
# data/sudoku-few-givens-test.csv: 1,000 minimal puzzles with 19-23 givens, one per solution grid, over a wide
# rating range, as the published hard collections are (docs/model-card-hard.md, "The few-givens test set").
#
#   recipes/few_givens_test_set.sh DIR        # the two mined pools in DIR, then the test set from them
#
# Seeds 2026 and 2027 are the test set's own and are never used for training data. On 16 cores: about 70 s and
# 155 s for the two pools.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
dir=$1
mkdir -p "$dir"
[ -f "$dir/few-a.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/few-a.csv" --num 1200 --givens 17-23 --seed 2026
[ -f "$dir/few-50.csv" ] || $PY -m src.hrm.make_dataset --out "$dir/few-50.csv" --num 300 --givens 17-23 \
    --min-rating 50 --seed 2027
# Fixed counts per rating bucket, taken in file order, so that the median rating (about 15) is near the first
# published collection's: rating 0: 100, 1-9: 200, 10-19: 250, 20-49: 187, 50+: 263 (all of the first pool's 50+,
# then the second pool's first).
$PY - "$dir/few-a.csv" "$dir/few-50.csv" data/sudoku-few-givens-test.csv <<'PYTHON'
import sys
from pathlib import Path

first, second, out = sys.argv[1:]
quota = {(0, 1): 100, (1, 10): 200, (10, 20): 250, (20, 50): 187, (50, 1 << 40): 263}
header, *rows = Path(first).read_text().splitlines()
rows += Path(second).read_text().splitlines()[1:]
kept = []
for (low, high), count in quota.items():
    bucket = [row for row in rows if low <= int(row.rsplit(",", 1)[1]) < high][:count]
    if len(bucket) < count:
        sys.exit(f"few_givens_test_set: only {len(bucket)} puzzles rated {low}..{high - 1}, {count} wanted")
    kept += bucket
Path(out + ".tmp").write_text("\n".join([header, *kept]) + "\n")
Path(out + ".tmp").replace(out)
print(f"{len(kept)} puzzles to {out}")
PYTHON
