"""A rank's part of a data-parallel run's rows: its own seed for generated rows, its stride of a dataset's stream."""

import numpy as np
import torch

from src.hrm.sudoku import generate_batch
from src.hrm.sudoku.files import write_puzzle_csv
from src.hrm.tasks import Shard, build_task
from src.hrm.tasks.sudoku_dataset import DatasetStream

PUZZLES, SOLUTIONS = generate_batch([1] * 7, seed=3, workers=1)


def test_rank_0_keeps_the_runs_seed_and_every_other_rank_has_its_own():
    assert Shard(0, 4).seed(42) == Shard().seed(42) == 42
    seeds = [Shard(rank, 8).seed(42) for rank in range(1, 8)]
    assert len(set(seeds + [42, Shard(1, 8).seed(43)])) == 9
    assert seeds == [Shard(rank, 8).seed(42) for rank in range(1, 8)]  # drawn from (seed, rank): the same each time
    assert all(0 <= seed < 2**62 for seed in seeds)  # seed + 1 seeds the step generator


def test_the_ranks_of_a_dataset_run_take_the_one_process_stream_in_turn():
    """Rank r's row j is row j·count + r of the one stream, augmentation included: every epoch is shared out."""
    count, rows = 3, 40  # 40 rows of a 7-row dataset: several epochs, not a multiple of the rank count
    whole = DatasetStream(PUZZLES, SOLUTIONS, seed=5, augment=True).take(0, rows)
    for rank in range(count):
        stream = DatasetStream(PUZZLES, SOLUTIONS, seed=5, augment=True, shard=Shard(rank, count))
        mine = len(range(rank, rows, count))
        parts = [stream.take(0, n) for n in (1, mine - 1)]  # cut anyhow
        for k in (0, 1):
            assert (np.concatenate([p[k] for p in parts]) == whole[k][rank::count]).all()
        resumed = DatasetStream(PUZZLES, SOLUTIONS, seed=5, augment=True, taken=1, shard=Shard(rank, count))
        assert (resumed.take(0, mine - 1)[0] == whole[0][rank::count][1:]).all()


def test_the_ranks_of_a_generated_run_draw_different_boards():
    task = build_task({"name": "boardpath", "board_size": 6})
    cpu, everyone = torch.device("cpu"), torch.ones(4, dtype=torch.bool)
    drawn = []
    for rank in (0, 1):
        rows = task.rows(seed=3, batch_size=4, device=cpu, workers=1, shard=Shard(rank, 2))
        rows.start()
        drawn.append(rows.draw(everyone, torch.Generator())[0])
    alone = task.rows(seed=3, batch_size=4, device=cpu, workers=1)
    alone.start()
    assert torch.equal(drawn[0], alone.draw(everyone, torch.Generator())[0])  # rank 0 is the one-process run
    assert not torch.equal(drawn[0], drawn[1])


def test_a_ranks_progress_counts_every_ranks_rows_and_its_refills_its_own(tmp_path):
    write_puzzle_csv(tmp_path / "rows.csv", PUZZLES, SOLUTIONS, np.zeros(len(PUZZLES), dtype=int), "generated")
    task = build_task({"name": "sudoku-dataset", "data": str(tmp_path / "rows.csv")})
    rows = task.rows(seed=0, batch_size=4, device=torch.device("cpu"), workers=1, shard=Shard(1, 2))
    rows.start()
    rows.draw(torch.ones(4, dtype=torch.bool), torch.Generator())
    rows.observe(1, {"consumed": 4.0})
    assert rows.rows_consumed() == 4 and rows.epoch() == 4 / 7  # alone: its own rows
    rows.observe_run(9)  # read back with a step: both ranks' rows
    assert rows.rows_consumed() == 9 and rows.epoch() == 9 / 7
    assert rows.queue.known_consumed == [4]  # what its refills go by
