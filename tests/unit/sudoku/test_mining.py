"""Mining rated puzzles: every puzzle checked with the plain-Python counter, ranges, determinism, distinctness."""

import numpy as np
import pytest
from test_reference import reference_solve

from src.hrm.sudoku import Difficulty, mine_puzzles, rate_difficulty
from src.hrm.sudoku import mining
from src.hrm.sudoku.generator import generate_stream


def check_puzzles(result, min_rating: int, max_rating: int | None, difficulty=Difficulty.EXTREME) -> None:
    """Each puzzle has one solution by the independent counter, the given solution, the given rating, in range."""
    puzzles, solutions, ratings, sources = result
    assert puzzles.dtype == solutions.dtype == np.int8 and ratings.dtype == np.int64
    lower, upper = difficulty.clue_range
    for puzzle, solution, rating, source in zip(puzzles, solutions, ratings, sources):
        count, found = reference_solve(puzzle)
        assert count == 1
        assert found.tolist() == solution.tolist()
        given = puzzle != 0
        assert (puzzle[given] == solution[given]).all()
        assert rate_difficulty(puzzle) == rating
        assert min_rating <= rating and (max_rating is None or rating <= max_rating)
        assert source in (f"generated-{difficulty.cli_name}", f"mined-{difficulty.cli_name}")
        if source.startswith("mined"):
            assert lower <= given.sum() <= upper  # the search keeps the clue count in the difficulty's range
    assert len({p.tobytes() for p in puzzles}) == len(puzzles)


@pytest.mark.parametrize("min_rating, max_rating", [(0, 0), (2, 6), (10, None), (20, 30)])
def test_ratings_lie_in_the_range_asked_for(min_rating, max_rating):
    result = mine_puzzles(10, min_rating, max_rating, seed=1, workers=2)
    assert len(result[0]) == 10
    check_puzzles(result, min_rating, max_rating)


def test_hard_puzzles_come_from_the_search():
    # 0.7% of generated extreme puzzles need 20 guesses; 40 is out of reach for filtering, not for the search.
    result = mine_puzzles(6, min_rating=40, seed=2, workers=2)
    check_puzzles(result, 40, None)
    assert "mined-extreme" in set(result[3])


def test_an_easy_range_takes_the_generators_puzzles_in_order():
    puzzles, solutions, ratings, sources = mine_puzzles(20, seed=5, workers=2)
    stream = mining.MINING_STREAM + Difficulty.EXTREME
    expected_puzzles, expected_solutions = generate_stream([Difficulty.EXTREME] * 20, 5, stream, 0)
    assert (puzzles == expected_puzzles).all() and (solutions == expected_solutions).all()
    assert set(sources) == {"generated-extreme"}
    assert ratings.tolist() == [rate_difficulty(p) for p in puzzles]


def test_same_seed_same_puzzles_for_any_worker_count():
    one = mine_puzzles(8, min_rating=12, seed=3, workers=1)
    two = mine_puzzles(8, min_rating=12, seed=3, workers=2)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)
    other = mine_puzzles(8, min_rating=12, seed=4, workers=2)
    assert not np.array_equal(one[0], other[0])


def test_chains_do_not_depend_on_how_they_are_handed_out():
    whole = mining.run_chains(Difficulty.EXTREME, 14, mining.NO_MAX, 2, mining.base_seed(8), 0, 10)
    parts = [mining.run_chains(Difficulty.EXTREME, 14, mining.NO_MAX, 2, mining.base_seed(8), start, count)
             for start, count in ((0, 3), (3, 7))]
    for i in range(5):  # puzzles, solutions, ratings, searched, counts (not the seconds)
        assert np.array_equal(whole[i], np.concatenate([part[i] for part in parts]))


def test_a_chain_gives_a_few_distinct_puzzles_of_one_grid():
    puzzles, solutions, ratings, sources = mine_puzzles(30, min_rating=8, seed=6, workers=2, per_chain=3)
    check_puzzles((puzzles, solutions, ratings, sources), 8, None)
    grids, counts = np.unique(solutions, axis=0, return_counts=True)
    assert counts.max() <= 3 and len(grids) < 30
    for grid in grids:
        same = puzzles[(solutions == grid).all(1)]
        for i in range(len(same)):
            for j in range(i):
                assert (same[i] != same[j]).sum() >= mining.MIN_DISTANCE


def test_other_difficulties_and_progress():
    reported = []
    result = mine_puzzles(12, min_rating=4, seed=7, workers=2, difficulty="hard", progress=reported.append)
    check_puzzles(result, 4, None, Difficulty.HARD)
    assert sum(reported) == 12 and min(reported) > 0


def test_bad_arguments_are_refused():
    for kwargs, words in [
        (dict(num=-1), "negative"),
        (dict(num=1, min_rating=-2), "min_rating"),
        (dict(num=1, min_rating=10, max_rating=8), "below min_rating"),
        (dict(num=1, per_chain=0), "per_chain"),
        (dict(num=1, difficulty="brutal"), "unknown difficulty"),
    ]:
        with pytest.raises(ValueError, match=words):
            mine_puzzles(**kwargs)
    assert len(mine_puzzles(0)[0]) == 0


def test_an_unreachable_range_ends_with_an_error(monkeypatch):
    monkeypatch.setattr(mining, "GIVE_UP_CHAINS", 8)
    # Very easy puzzles keep 46 to 50 clues: singles solve them all.
    with pytest.raises(ValueError, match="out of reach"):
        mine_puzzles(1, min_rating=30, seed=0, workers=2, difficulty=Difficulty.VERY_EASY)
