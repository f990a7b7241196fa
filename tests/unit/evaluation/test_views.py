"""Test-time views, the checkers and the choice among candidates."""

import numpy as np

from src.hrm.boardpath import PATH, generate_boards, score_paths
from src.hrm.boardpath.views import board_views, square_symmetries
from src.hrm.evaluation.views import choose_answers
from src.hrm.sudoku import count_solutions_batch, generate_batch
from src.hrm.sudoku.views import sudoku_accepts, sudoku_views
from src.hrm.tasks import build_task

PUZZLES, SOLUTIONS = generate_batch([3] * 6, seed=2, workers=1)


def test_sudoku_views_keep_one_solution_and_map_back():
    views = sudoku_views(len(PUZZLES), 5, seed=1)
    puzzles, solutions = np.repeat(PUZZLES, 5, axis=0), np.repeat(SOLUTIONS, 5, axis=0)
    seen, answers = views.apply(puzzles), views.apply(solutions)
    assert (seen[::5] == PUZZLES).all()  # view 0 is the puzzle itself
    assert (count_solutions_batch(seen, limit=2) == 1).all()  # the engine's counter, on every view
    assert (views.inverse().apply(answers) == solutions).all()
    assert len({row.tobytes() for row in seen}) == len(seen)


def test_board_views_are_the_eight_symmetries():
    symmetries = square_symmetries(5)
    assert len({s.tobytes() for s in symmetries}) == 8 and (symmetries[0] == np.arange(25)).all()
    boards, answers = generate_boards(4, 7, seed=3, workers=1)
    views = board_views(4, 8, 7)
    seen, mapped = views.apply(np.repeat(boards, 8, 0)), views.apply(np.repeat(answers, 8, 0))
    # A shortest path seen through a symmetry is a shortest path of the transformed board.
    assert score_paths(seen, mapped, 7)[1].all()
    assert (views.inverse().apply(mapped) == np.repeat(answers, 8, 0)).all()


def test_the_sudoku_checker_accepts_solutions_and_rejects_every_single_cell_change():
    assert sudoku_accepts(PUZZLES, SOLUTIONS).all()
    for cell in range(0, 81, 7):
        broken = SOLUTIONS.copy()
        broken[:, cell] = broken[:, cell] % 9 + 1
        assert not sudoku_accepts(PUZZLES, broken).any()
    other = SOLUTIONS[[1, 2, 3, 4, 5, 0]]  # valid grids that drop the givens
    assert not sudoku_accepts(PUZZLES, other).any()


def test_the_board_checker_accepts_paths_not_noise():
    boards, answers = generate_boards(10, 6, min_path=3, seed=4, workers=1)
    accepts = build_task({"name": "boardpath", "board_size": 6}).view_rules().accepts
    assert accepts(boards, answers).all()
    broken = answers.copy()
    for row in broken:
        row[np.flatnonzero(row == PATH)[0]] = 1  # a gap in the path
    assert not accepts(boards, broken).any()


def test_choice_prefers_accepted_then_frequent_then_confident_then_votes():
    a, b, c = np.array([1, 1, 1]), np.array([2, 2, 2]), np.array([3, 3, 3])
    candidates = np.array([
        [a, b, b, c],  # accepted: a (1 view) and b (2 views): the more frequent wins
        [a, b, c, c],  # accepted: a and b, once each: the more confident wins
        [a, b, c, a],  # nothing accepted: the per-cell vote, unsolved
    ])
    accepted = np.array([[True, True, True, False], [True, True, False, False], [False] * 4])
    confidence = np.array([[0.9, 0.1, 0.2, 0.0], [0.3, 0.8, 0.9, 0.9], [0.0] * 4])
    choice = choose_answers(candidates, accepted, confidence)
    assert choice.answers.tolist() == [[2, 2, 2], [2, 2, 2], [1, 1, 1]]
    assert choice.accepted.tolist() == [True, True, False]
    # Of the two views that gave b in row 0, the more confident one is named.
    assert choice.winning_view.tolist() == [2, 1, -1] and choice.agreeing.tolist() == [2, 1, 2]


def test_a_lower_cost_beats_frequency_and_confidence_among_accepted_answers_only():
    a, b, c = np.array([1, 1, 1]), np.array([2, 2, 2]), np.array([3, 3, 3])
    candidates = np.array([[a, b, b, c], [a, b, b, c]])
    accepted = np.array([[True, True, True, False], [True, True, True, False]])
    confidence = np.array([[0.1, 0.9, 0.9, 0.9], [0.1, 0.9, 0.9, 0.9]])
    cost = np.array([[3, 5, 5, 0], [5, 5, 5, 0]])  # row 0: a is cheapest; c is cheaper still but not accepted
    choice = choose_answers(candidates, accepted, confidence, cost)
    assert choice.answers.tolist() == [[1, 1, 1], [2, 2, 2]]  # row 1: a tie on cost, so frequency decides
    assert choice.winning_view.tolist() == [0, 1]


def test_among_accepted_paths_of_a_board_the_shortest_one_a_view_wrote_wins():
    # . . . .    From S the shortest path goes straight down to E (2 steps); the detour up, right, down the third
    # S # . .    column and back along the bottom (8 steps) is a simple S->E path, so the checker accepts it.
    # . # . .    Two views wrote the detour, one the shortest path.
    # E . . .
    task = build_task({"name": "boardpath", "board_size": 4})
    board, shortest = task.demo_board("....\nS#..\n.#..\nE...")
    detour = board.copy()
    detour[[0, 1, 2, 6, 10, 14, 13]] = PATH
    rules = task.view_rules()
    candidates = np.stack([detour, shortest, detour])
    accepted = rules.accepts(np.repeat(board[None], 3, 0), candidates)
    assert accepted.all() and score_paths(board[None], detour[None], 4)[1].tolist() == [False]
    choice = choose_answers(candidates[None], accepted[None], np.ones((1, 3)), rules.cost(candidates)[None])
    assert choice.winning_view.tolist() == [1] and (choice.answers[0] == shortest).all()
