"""Boardpath engine against an independent plain-Python BFS: generated boards, canonical answers, the scorer."""

from collections import deque

import numpy as np
import pytest

from src.hrm.boardpath import (
    END, FLOOR, PATH, START, WALL, board_to_string, generate_boards, parse_board, score_paths, solve_board,
)


def bfs(board, size):
    """Steps from S to every cell (None where unreachable), written without the engine."""
    cells = list(board.reshape(-1))
    start = cells.index(START)
    steps = {start: 0}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        r, c = divmod(cell, size)
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            other = nr * size + nc
            if 0 <= nr < size and 0 <= nc < size and cells[other] != WALL and other not in steps:
                steps[other] = steps[cell] + 1
                queue.append(other)
    return steps


def reference_score(board, prediction, size):
    """(valid, shortest) by the definition: walls/S/E kept, others floor or path, and the path cells with S and E
    form one simple chain (endpoints S and E of degree 1, path cells of degree 2, one connected piece)."""
    board, prediction = list(board.reshape(-1)), list(prediction.reshape(-1))
    for b, p in zip(board, prediction):
        if (b in (WALL, START, END) and p != b) or (b == FLOOR and p not in (FLOOR, PATH)):
            return False, False
    start, end = board.index(START), board.index(END)
    chain = {i for i, p in enumerate(prediction) if p == PATH} | {start, end}

    def around(cell):
        r, c = divmod(cell, size)
        return [nr * size + nc for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                if 0 <= nr < size and 0 <= nc < size and nr * size + nc in chain]

    if any(len(around(cell)) != (1 if cell in (start, end) else 2) for cell in chain):
        return False, False
    seen, todo = {start}, [start]
    while todo:
        for other in around(todo.pop()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    if seen != chain:
        return False, False
    return True, len(chain) - 1 == bfs(np.array(board), size)[end]


@pytest.mark.parametrize("size,wall_prob,min_path", [(10, 0.3, 0), (7, 0.1, 0), (12, 0.4, 8), (20, 0.3, 15)])
def test_generated_boards_have_a_reachable_end_and_a_shortest_path_marked(size, wall_prob, min_path):
    boards, answers = generate_boards(60, size=size, wall_prob=wall_prob, min_path=min_path, seed=3, workers=1)
    assert boards.shape == answers.shape == (60, size * size)
    for board, answer in zip(boards, answers):
        assert (board == START).sum() == 1 and (board == END).sum() == 1
        assert set(np.unique(board)) <= {FLOOR, WALL, START, END}
        steps = bfs(board, size)
        end = int(np.flatnonzero(board == END)[0])
        assert end in steps and steps[end] >= max(min_path, 1)
        assert ((answer != board) == (answer == PATH)).all() and (board[answer == PATH] == FLOOR).all()
        assert (answer == PATH).sum() == steps[end] - 1
        assert reference_score(board, answer, size) == (True, True)


def test_the_answer_is_the_canonical_path():
    """Walking back from E, the first neighbour (up, down, left, right) one step closer to S."""
    boards, answers = generate_boards(100, size=9, seed=4, workers=1)
    for board, answer in zip(boards, answers):
        steps = bfs(board, 9)
        cell, expected = int(np.flatnonzero(board == END)[0]), set()
        while steps[cell] > 1:
            r, c = divmod(cell, 9)
            cell = next(nr * 9 + nc for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                        if 0 <= nr < 9 and 0 <= nc < 9 and steps.get(nr * 9 + nc) == steps[cell] - 1)
            expected.add(cell)
        assert set(np.flatnonzero(answer == PATH)) == expected
        assert (solve_board(board, 9) == answer).all()


def test_walls_follow_the_probability_and_the_stream_is_reproducible():
    boards, _ = generate_boards(3000, size=10, wall_prob=0.3, seed=5)
    # Kept boards are a little more open than the draw (a walled-off E is redrawn): close to 0.3 from below.
    assert 0.26 < (boards == WALL).mean() < 0.3
    again, _ = generate_boards(3000, size=10, wall_prob=0.3, seed=5, workers=1)
    assert (again == boards).all()
    later, _ = generate_boards(10, size=10, wall_prob=0.3, seed=5, start=2990)
    assert (later == boards[2990:]).all()
    assert not (generate_boards(10, seed=6)[0] == boards[:10]).all()


def test_impossible_settings_are_an_error_not_a_hang():
    with pytest.raises(ValueError, match="wall probability must be in"):
        generate_boards(1, wall_prob=1.0)
    with pytest.raises(ValueError, match="shortest path of at least 50 steps"):
        generate_boards(1, size=4, min_path=50)


def perturbations(board, answer, size, rng):
    """Predictions near the answer: the answer, alternatives, broken and padded paths, random noise."""
    yield answer
    yield board  # nothing marked
    for _ in range(6):
        candidate = answer.copy()
        floor = np.flatnonzero(board == FLOOR)
        flips = rng.choice(floor, size=min(len(floor), rng.integers(1, 4)), replace=False)
        candidate[flips] = np.where(candidate[flips] == PATH, FLOOR, PATH)
        yield candidate
    wrong = answer.copy()
    wrong[np.flatnonzero(board == WALL)[:1]] = PATH
    yield wrong
    yield rng.choice([FLOOR, WALL, START, END, PATH], size=size * size).astype(np.int8)


def test_the_scorer_agrees_with_the_definition():
    rng = np.random.default_rng(0)
    boards, answers = generate_boards(300, size=6, wall_prob=0.25, seed=7, workers=1)
    outcomes = set()
    for board, answer in zip(boards, answers):
        predictions = np.stack(list(perturbations(board, answer, 6, rng)))
        valid, shortest = score_paths(np.repeat(board[None], len(predictions), 0), predictions, 6)
        for prediction, v, s in zip(predictions, valid, shortest):
            assert (bool(v), bool(s)) == reference_score(board, prediction, 6), board_to_string(prediction, 6)
            outcomes.add((bool(v), bool(s)))
    assert {(True, True), (False, False)} <= outcomes  # detours (valid, not shortest): the test below


def test_another_shortest_path_is_right_and_a_detour_is_valid_only():
    board, size = parse_board("""
        S...
        .##.
        ...E
        ....""")
    canonical = solve_board(board, size)
    assert board_to_string(canonical, size) == "S***\n.##*\n...E\n...."  # from E, "up" comes first
    other, _ = parse_board("S...\n.##.\n...E\n....")
    other[[4, 8, 9, 10]] = PATH  # down the left and along the third row: also 5 steps
    detour, _ = parse_board("S...\n.##.\n...E\n....")
    detour[[4, 8, 12, 13, 14, 15]] = PATH  # down the left, along the bottom, up to E: 7 steps
    valid, shortest = score_paths(np.stack([board] * 3), np.stack([canonical, other, detour]), size)
    assert valid.tolist() == [True, True, True] and shortest.tolist() == [True, True, False]


@pytest.mark.parametrize(
    "text,message",
    [("S..\n...\n..", "must be square"), ("S.x\n...\n..E", "row 1, column 3: 'x'"), ("S..\n...\n...", "one E"),
     ("SS.\n...\n..E", "one S")],
)
def test_parse_board_errors_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse_board(text)
