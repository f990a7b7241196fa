"""The maze engine against plain-Python references: BFS distances with a deque, a path checker written from its
definition, the 8 symmetries by numpy's own rotations, and the published CSV layout read back."""

from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.hrm.maze import files as maze_files
from src.hrm.maze.files import MazeFileError, parse_maze_csv, read_maze_file, write_maze_csv
from src.hrm.maze.generator import BACKTRACKER, WALLS, generate_mazes, maze_kinds
from src.hrm.maze.scoring import exact_match, score_paths, solve_mazes
from src.hrm.boardpath.views import SQUARE_SYMMETRIES, square_symmetries
from src.hrm.maze.tokens import GOAL, OPEN, PATH, START, WALL, text_to_tokens, tokens_to_text


def bfs_steps(maze: np.ndarray, size: int) -> int:
    """Steps of a shortest S-to-G path through non-wall cells, -1 if none: a deque, no numba."""
    start, goal = int(np.flatnonzero(maze == START)[0]), int(np.flatnonzero(maze == GOAL)[0])
    seen = {start: 0}
    todo = deque([start])
    while todo:
        cell = todo.popleft()
        r, c = divmod(cell, size)
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            other = rr * size + cc
            if 0 <= rr < size and 0 <= cc < size and maze[other] != WALL and other not in seen:
                seen[other] = seen[cell] + 1
                todo.append(other)
    return seen.get(goal, -1)


def reference_score(maze: np.ndarray, prediction: np.ndarray, size: int) -> tuple[bool, bool]:
    """(valid, shortest) from the definition: the maze kept, path cells on open cells only, and S, the path cells
    and G one simple chain from S to G; shortest when its steps are the BFS distance."""
    fixed = (maze == WALL) | (maze == START) | (maze == GOAL)
    if (prediction[fixed] != maze[fixed]).any() or not np.isin(prediction[~fixed], (OPEN, PATH)).all():
        return False, False
    chain = set(np.flatnonzero(prediction == PATH).tolist())
    start, goal = int(np.flatnonzero(maze == START)[0]), int(np.flatnonzero(maze == GOAL)[0])
    cells, previous, cell, steps = chain | {start, goal}, None, start, 0
    while cell != goal:
        r, c = divmod(cell, size)
        nexts = [rr * size + cc for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                 if 0 <= rr < size and 0 <= cc < size and rr * size + cc in cells and rr * size + cc != previous]
        if len(nexts) != 1:
            return False, False  # a dead end or a fork
        previous, cell, steps = cell, nexts[0], steps + 1
        if steps > len(cells):
            return False, False
    if steps != len(chain) + 1:
        return False, False  # marked cells off the chain
    # A simple chain: no marked cell touches the chain twice (S and G of degree 1, the others of degree 2).
    for cell in cells:
        r, c = divmod(cell, size)
        degree = sum(1 for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
                     if 0 <= rr < size and 0 <= cc < size and rr * size + cc in cells)
        if degree != (1 if cell in (start, goal) else 2):
            return False, False
    return True, steps == bfs_steps(maze, size)


def test_generated_mazes_are_hard_with_a_shortest_path_as_their_answer_and_thread_independent():
    mazes, answers, ratings = generate_mazes(12, size=12, min_path=25, seed=3, workers=2)
    again, _, _ = generate_mazes(12, size=12, min_path=25, seed=3, workers=1)
    assert np.array_equal(mazes, again)
    assert ((mazes == START).sum(1) == 1).all() and ((mazes == GOAL).sum(1) == 1).all()
    assert not (mazes == PATH).any() and (mazes == WALL).any()
    for maze, answer, rating in zip(mazes, answers, ratings):
        assert rating == bfs_steps(maze, 12) >= 25
        assert reference_score(maze, answer, 12) == (True, True)
        assert (answer == PATH).sum() == rating - 1
    solved, steps = solve_mazes(mazes, 12)
    assert np.array_equal(solved, answers) and np.array_equal(steps, ratings)


def test_a_30x30_stream_keeps_the_hard_filter_by_default():
    mazes, answers, ratings = generate_mazes(2, seed=1, workers=2)
    assert mazes.shape == (2, 900) and (ratings > 110).all()
    assert [bfs_steps(m, 30) for m in mazes] == ratings.tolist()


def open_links(maze: np.ndarray, size: int) -> tuple[int, int, bool]:
    """(open cells, pairs of side-by-side open cells, all open cells joined): S and G count as open; plain Python."""
    grid = (maze != WALL).reshape(size, size)
    cells = int(grid.sum())
    links = int((grid[1:] & grid[:-1]).sum() + (grid[:, 1:] & grid[:, :-1]).sum())
    first = tuple(np.argwhere(grid)[0])
    seen, todo = {first}, [first]
    while todo:
        r, c = todo.pop()
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < size and 0 <= cc < size and grid[rr, cc] and (rr, cc) not in seen:
                seen.add((rr, cc))
                todo.append((rr, cc))
    return cells, links, len(seen) == cells


def test_backtracker_mazes_are_perfect_hard_and_thread_independent():
    mazes, answers, ratings = generate_mazes(10, size=13, min_path=30, seed=4, workers=2, kinds=BACKTRACKER)
    again, _, _ = generate_mazes(4, size=13, min_path=30, seed=4, workers=1, start=6, kinds=BACKTRACKER)
    assert np.array_equal(mazes[6:], again)  # maze i depends on (seed, stream, i) alone
    for maze, answer, rating in zip(mazes, answers, ratings):
        cells, links, joined = open_links(maze, 13)
        assert joined and links == cells - 1  # a tree: one path between any two open cells
        assert rating == bfs_steps(maze, 13) >= 30
        assert reference_score(maze, answer, 13) == (True, True)
    # walls cut the grid on a lattice two apart, at an offset drawn per maze
    offsets = {(int(np.flatnonzero((m.reshape(13, 13) != WALL).any(1))[0] % 2),
                int(np.flatnonzero((m.reshape(13, 13) != WALL).any(0))[0] % 2)) for m in mazes}  # fmt: skip
    assert len(offsets) > 1
    assert np.array_equal(solve_mazes(mazes, 13)[0], answers)


def test_a_mix_of_kinds_draws_both_and_the_walls_stream_is_the_default_one():
    mixed, _, _ = generate_mazes(16, size=11, min_path=10, seed=2, workers=2, kinds=WALLS | BACKTRACKER)
    trees = [open_links(m, 11)[1] == open_links(m, 11)[0] - 1 and open_links(m, 11)[2] for m in mixed]
    assert 0 < sum(trees) < 16
    default, _, _ = generate_mazes(4, size=11, min_path=10, seed=2, workers=1)
    assert np.array_equal(default, generate_mazes(4, size=11, min_path=10, seed=2, workers=1, kinds=WALLS)[0])
    assert maze_kinds("walls") == WALLS and maze_kinds("backtracker, walls") == WALLS | BACKTRACKER
    with pytest.raises(ValueError, match="unknown maze kind 'maze'"):
        maze_kinds("walls,maze")
    with pytest.raises(ValueError, match="mask"):
        generate_mazes(1, size=5, min_path=0, kinds=4)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), edits=st.lists(st.tuples(st.integers(0, 63), st.sampled_from([OPEN, PATH, WALL])),
                                                  max_size=3))
def test_path_scores_match_the_definition_on_edited_answers(seed, edits):
    mazes, answers, _ = generate_mazes(1, size=8, min_path=6, seed=seed % 50, workers=1)
    prediction = answers[0].copy()
    for cell, token in edits:
        prediction[cell] = token
    valid, shortest = score_paths(mazes, prediction[None], 8)
    assert (bool(valid[0]), bool(shortest[0])) == reference_score(mazes[0], prediction, 8)
    assert bool(exact_match(answers, prediction[None])[0]) == np.array_equal(prediction, answers[0])


# A simple S-to-G chain of 12 steps through an open 5x5 grid, where the shortest takes 8.
SNAKE = "S ooo" "o o o" "ooo o" "    o" "    G"


def test_a_longer_detour_is_valid_but_not_shortest():
    size = 5
    maze = text_to_tokens("S    " + "     " * 3 + "    G")
    answer, steps = solve_mazes(maze[None], size)
    assert steps[0] == 8 and reference_score(maze, answer[0], size) == (True, True)
    detour = text_to_tokens(SNAKE)
    valid, shortest = score_paths(maze[None], detour[None], size)
    assert (bool(valid[0]), bool(shortest[0])) == reference_score(maze, detour, size) == (True, False)


def test_the_eight_views_are_the_squares_symmetries_and_keep_a_mazes_shortest_path():
    size = 6
    square = np.arange(size * size).reshape(size, size)
    expected = [np.rot90(square, k) for k in range(4)] + [np.fliplr(np.rot90(square, k)) for k in range(4)]
    permutations = square_symmetries(size)
    assert len(permutations) == SQUARE_SYMMETRIES
    assert {p.tobytes() for p in permutations} == {e.reshape(-1).tobytes() for e in expected}
    mazes, answers, ratings = generate_mazes(3, size=10, min_path=15, seed=4, workers=1)
    for cells in square_symmetries(10):  # a view of a maze keeps its shortest path's length, and its answer's
        turned, steps = mazes[:, cells], solve_mazes(mazes[:, cells], 10)[1]
        assert steps.tolist() == ratings.tolist()
        assert score_paths(turned, answers[:, cells], 10)[1].all()


def test_the_published_layout_round_trips_and_bad_rows_are_one_line_errors(tmp_path):
    mazes, answers, ratings = generate_mazes(4, size=6, min_path=7, seed=2, workers=1)
    path = tmp_path / "mazes.csv"
    write_maze_csv(path, mazes, answers, ratings, "generated")
    assert path.read_text().splitlines()[0] == "source,question,answer,rating"
    found = read_maze_file(path)
    assert found.size == 6 and np.array_equal(found.questions, mazes) and np.array_equal(found.answers, answers)
    assert found.ratings.tolist() == ratings.tolist() and found.steps.tolist() == ratings.tolist()
    assert tokens_to_text(mazes[0]).count("S") == 1

    def bad(question, answer, words):
        lines = ["source,question,answer,rating", f"x,{question},{answer},1"]
        with pytest.raises(MazeFileError, match=words) as caught:
            parse_maze_csv(lines, source="m.csv")
        assert "\n" not in str(caught.value) and "m.csv:2" in str(caught.value)

    q, a = tokens_to_text(mazes[0]), tokens_to_text(answers[0])
    bad(q[:-1], a, "not a square grid")
    bad(q.replace(" ", "x", 1), a, "not one of")
    bad(q.replace("S", " "), "", "exactly one S")
    bad("S#  " "##  " "    " "   G", "", "cannot be reached")  # S walled in
    bad(q, a.replace("o", " ", 1), "not one simple S-to-G path")
    bad("S    " "     " "     " "     " "    G", SNAKE, r"not a shortest one \(12 steps, the shortest is 8\)")
    with pytest.raises(MazeFileError, match="maze file not found"):
        read_maze_file(tmp_path / "missing.csv")
    assert maze_files.HF_DATASET == "hf://sapientinc/maze-30x30-hard-1k"
