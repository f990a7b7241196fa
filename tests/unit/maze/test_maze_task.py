"""The maze task's rows, curricula, files and views against direct computations: a deque BFS, the published
layout read back, and the square's symmetries by numpy's own rotations."""

import numpy as np
import pytest
import torch
from test_maze import bfs_steps

from src.hrm.maze import (GOAL, OPEN, PATH, START, WALL, generate_mazes, parse_maze_text, score_paths, solve_mazes,
                          write_maze_csv)
from src.hrm.tasks import TaskError, build_task
from src.hrm.tasks.maze_rows import MazeFileRows, stage_table, wall_in

CPU = torch.device("cpu")


def maze_task(**settings):
    return build_task({"name": "maze", "size": 12, "min_path": 10, **settings})


def test_a_path_curriculums_stages_hold_paths_of_their_lengths():
    task = maze_task(path_curriculum="3,6")
    assert task.stages == [(12, 1, 3), (12, 4, 6), (12, 10, None)]
    rows = task.rows(0, 8, CPU, 1)
    for kind, (_, low, high) in enumerate(task.stages):
        mazes, answers = rows.take_kind(kind, 6)
        steps = [bfs_steps(m, 12) for m in mazes]
        assert all(low <= s <= (high or 10**9) for s in steps), (kind, steps)
        assert score_paths(mazes, answers, 12)[1].all()


def test_the_generators_longest_path_bound_holds():
    _, _, ratings = generate_mazes(20, size=10, min_path=3, max_path=5, seed=2, workers=1)
    assert ratings.min() >= 3 and ratings.max() <= 5


def test_a_region_curriculum_walls_small_mazes_in_and_keeps_their_shortest_path():
    task = maze_task(region_curriculum="5,8")
    assert [side for side, _, _ in task.stages] == [5, 8, 12]
    rows = task.rows(3, 8, CPU, 1)
    mazes, answers = rows.take_kind(0, 10)
    assert mazes.shape == (10, 144)
    for maze, answer in zip(mazes, answers):
        grid = maze.reshape(12, 12)
        inside = np.argwhere(grid != WALL)
        assert (inside.max(0) - inside.min(0) < 5).all()  # every open cell within one 5x5 block
        assert (grid == START).sum() == 1 and (grid == GOAL).sum() == 1
    assert score_paths(mazes, answers, 12)[1].all()
    # Row i depends on its index only, not on how the rows were asked for (a resumed run sees the same rows).
    again = task.rows(3, 8, CPU, 1)
    first, second = again.take_kind(0, 4), again.take_kind(0, 6)
    assert (np.concatenate([first[0], second[0]]) == mazes).all()


def test_wall_in_places_each_maze_whole_inside_the_grid():
    small, answers, _ = generate_mazes(30, size=4, min_path=1, seed=1, workers=1)
    grids, marked = wall_in(small, answers, 4, 7, seed=5, stream=1, start=0)
    for grid, answer, original in zip(grids.reshape(-1, 7, 7), marked.reshape(-1, 7, 7), small.reshape(-1, 4, 4)):
        found = [(r, c) for r in range(4) for c in range(4) if (grid[r:r + 4, c:c + 4] == original).all()]
        assert found and (np.sort(grid, axis=None)[: 49 - 16] == WALL).all()
        r, c = found[0]
        assert (answer[r:r + 4, c:c + 4] != WALL).sum() == (original != WALL).sum()
    offsets = {tuple(np.argwhere(g.reshape(7, 7) != WALL).min(0)) for g in grids}
    assert len(offsets) > 3  # drawn, not always the corner


def test_stage_tables_are_distributions_that_keep_a_fifth_for_earlier_stages():
    table = np.array(stage_table(4))
    assert np.allclose(table.sum(1), 1) and table[0, 0] == 1
    assert np.allclose(np.diag(table)[1:], 0.8) and np.allclose(np.triu(table, 1), 0)


@pytest.mark.parametrize("settings, words", [
    ({"path_curriculum": "6,3"}, "must increase"),
    ({"path_curriculum": "3,10"}, "at most 9"),
    ({"path_curriculum": "a"}, "whole numbers"),
    ({"region_curriculum": "12"}, "at most 11"),
    ({"path_curriculum": "3", "region_curriculum": "5"}, "not both"),
    ({"path_curriculum": "3", "data": "x.csv"}, "does not apply with --data"),
    ({"wall_min": 0.6, "wall_max": 0.5}, "0 <= min <= max < 1"),
    ({"size": 1}, "at least 2"),
    ({"kinds": "walls,perfect"}, "--maze-kinds: unknown maze kind 'perfect'"),
])  # fmt: skip
def test_bad_settings_are_one_line_task_errors(settings, words):
    with pytest.raises(TaskError, match=words):
        maze_task(**settings)


def test_training_on_a_file_sees_every_row_once_an_epoch_each_through_a_symmetry(tmp_path):
    mazes, answers, _ = generate_mazes(5, size=6, min_path=4, seed=9, workers=1)
    path = tmp_path / "train.csv"
    write_maze_csv(path, mazes, answers, [0] * 5, "test")
    task = build_task({"name": "maze", "size": 6, "min_path": 0, "data": str(path)})
    rows = task.rows(1, 4, CPU, 1)
    assert isinstance(rows, MazeFileRows)
    seen, views = rows.take(10)
    square = [np.rot90(m.reshape(6, 6), k) for m in mazes for k in range(4)]
    symmetries = {s.tobytes() for s in square} | {np.fliplr(s).tobytes() for s in square}
    assert all(m.reshape(6, 6).tobytes() in symmetries for m in seen)
    originals = [next(i for i in range(5) if any((np.rot90(mazes[i].reshape(6, 6), k) == m.reshape(6, 6)).all()
                                                  or (np.fliplr(np.rot90(mazes[i].reshape(6, 6), k))
                                                      == m.reshape(6, 6)).all() for k in range(4))) for m in seen]
    assert sorted(originals[:5]) == list(range(5)) and sorted(originals[5:]) == list(range(5))
    assert score_paths(seen, views, 6)[1].all()
    assert rows.record({"solved": 0.25, "accuracy": 0.9}) == {"solved": 0.25}  # logged as for generated mazes


def open_square_with_a_path(path_cells):
    """A 3x3 maze with no walls, S top left, G bottom right, and an answer marking the given cells."""
    maze = np.full(9, OPEN, dtype=np.int8)
    maze[0], maze[8] = START, GOAL
    answer = maze.copy()
    answer[list(path_cells)] = PATH
    return maze, answer


def turned_views_of(rows, count):
    """`count` rows of the stream: the mazes and answers, and each maze's S->G path cells in reading order."""
    mazes, answers = rows.take(count)
    return mazes, answers, [tuple(np.flatnonzero(a == PATH)) for a in answers]


def test_a_canonical_file_teaches_the_canonical_path_in_every_view(tmp_path):
    # S . .      The canonical path walks back from G to the first neighbour up, down, left, right one step
    # . . .      closer to S: from G up (5), up (2), left (1). Turned, that path would break ties another way.
    # . . G
    maze, canonical = open_square_with_a_path([1, 2, 5])
    write_maze_csv(tmp_path / "c.csv", maze[None], canonical[None], [4], "test")
    rows = build_task({"name": "maze", "size": 3, "min_path": 0, "data": str(tmp_path / "c.csv")}).rows(0, 4, CPU, 1)
    mazes, answers, paths = turned_views_of(rows, 16)
    # every view's answer is what the rule marks on that view: from G, up first, else left
    for m, path in zip(mazes, paths):
        goal, start = int(np.flatnonzero(m == GOAL)[0]), int(np.flatnonzero(m == START)[0])
        cell, marked = goal, []
        while True:
            row, col = divmod(cell, 3)
            srow, scol = divmod(start, 3)
            step = cell - 3 if row > srow else cell + 3 if row < srow else cell - 1 if col > scol else cell + 1
            if step == start:
                break
            marked.append(step)
            cell = step
        assert tuple(sorted(marked)) == path
    assert len(set(map(bytes, mazes))) > 1  # several symmetries were drawn


def test_a_file_with_its_own_tie_break_keeps_its_paths_turned_with_the_maze(tmp_path):
    maze, other = open_square_with_a_path([3, 6, 7])  # down the left side, then along the bottom
    write_maze_csv(tmp_path / "o.csv", maze[None], other[None], [4], "test")
    rows = build_task({"name": "maze", "size": 3, "min_path": 0, "data": str(tmp_path / "o.csv")}).rows(0, 4, CPU, 1)
    mazes, answers, _ = turned_views_of(rows, 16)
    grid, path = maze.reshape(3, 3), other.reshape(3, 3)
    turns = [np.rot90(g, k) for g in (grid, path) for k in range(4)]
    turns = list(zip(turns[:4], turns[4:])) + [(np.fliplr(g), np.fliplr(a)) for g, a in zip(turns[:4], turns[4:])]
    for m, a in zip(mazes, answers):  # the file's path, turned by one of the symmetries that turn the maze so
        assert any((g.reshape(-1) == m).all() and (t.reshape(-1) == a).all() for g, t in turns)
    assert not (solve_mazes(mazes, 3)[0] == answers).all()  # not re-marked by the canonical rule


def test_a_file_of_another_size_is_refused(tmp_path):
    mazes, answers, _ = generate_mazes(2, size=5, min_path=2, seed=1, workers=1)
    write_maze_csv(tmp_path / "m.csv", mazes, answers, [0, 0], "test")
    with pytest.raises(TaskError, match="5x5 mazes; --maze-size is 6"):
        build_task({"name": "maze", "size": 6, "min_path": 0, "data": str(tmp_path / "m.csv")}).rows(0, 4, CPU, 1)


def test_a_maze_picture_reads_back_and_bad_ones_name_the_problem():
    maze, size = parse_maze_text("S #\n # \n  G\n")
    assert size == 3 and maze.tolist() == [START, OPEN, WALL, OPEN, WALL, OPEN, OPEN, OPEN, GOAL]
    assert parse_maze_text("S # #   G")[0].tolist() == maze.tolist()  # the layout's one line
    for text, words in (("S #\n #\n  G", "square"), ("S x\n # \n  G", "line 1, cell 3: 'x'"),
                        ("S S\n # \n  G", "exactly one S"), ("S o\n # \n  G", "no path cells")):
        with pytest.raises(ValueError, match=words):
            parse_maze_text(text)


def test_infer_cases_come_from_the_evaluation_stream_or_a_file(tmp_path):
    task = maze_task()
    case = task.make_case(None, None, None, 4)
    assert case.answer is not None and score_paths(case.inputs[None], case.answer[None], 12)[1].all()
    assert case.fields["steps"] == bfs_steps(case.inputs, 12) >= 10
    (tmp_path / "m.txt").write_text("S##\n ##\n  G\n")
    with pytest.raises(ValueError, match="a 3x3 maze; this model solves 12x12"):
        task.make_case(None, None, str(tmp_path / "m.txt"), None)
    small = build_task({"name": "maze", "size": 3, "min_path": 0})
    assert (small.make_case(None, None, str(tmp_path / "m.txt"), None).answer == PATH).sum() == 3
    (tmp_path / "walled.txt").write_text("S#\n#G\n")
    with pytest.raises(ValueError, match="G cannot be reached"):
        build_task({"name": "maze", "size": 2, "min_path": 0}).make_case(None, None, str(tmp_path / "walled.txt"),
                                                                          None)  # fmt: skip
    with pytest.raises(ValueError, match="not a Sudoku"):
        task.make_case("hard", None, None, None)


def test_views_are_the_eight_symmetries_and_the_checker_accepts_any_shortest_path():
    task = maze_task()
    rules = task.view_rules()
    mazes, answers = task.mazes(2, 1)
    views = rules.transforms(2, 8)
    turned = mazes[np.repeat(np.arange(2), 8)[:, None], views.cells]
    assert len({t.tobytes() for t in turned[:8]}) == 8
    assert rules.accepts(turned, answers[np.repeat(np.arange(2), 8)[:, None], views.cells]).all()
    assert not rules.accepts(mazes, mazes).any()  # no path marked


def test_a_fresh_maze_run_takes_2d_rotary_tables_unless_told_otherwise(tmp_path):
    from src.hrm.checkpoint import save_model
    from src.hrm.modeling import HRMACTInner
    from src.hrm.train_args import fresh_run_config, parse_args

    def model_of(*flags):
        return fresh_run_config(parse_args(["--task", "maze", "--maze-size", "6", *flags]))[0].model

    assert (model_of().pos_encoding, model_of().grid_side) == ("rope2d", 6)
    assert model_of("--pos-encoding", "rope").pos_encoding == "rope"
    assert fresh_run_config(parse_args([]))[0].model.pos_encoding == "rope"  # Sudoku keeps the original's
    flat = model_of("--pos-encoding", "rope")
    save_model(HRMACTInner(flat), tmp_path / "flat.safetensors")
    assert model_of("--init-from", str(tmp_path / "flat.safetensors")).pos_encoding == "rope"  # the checkpoint's


def test_a_run_whose_heads_cannot_take_2d_tables_is_refused_in_one_line():
    from src.hrm.train_args import check_run_config, fresh_run_config, parse_args

    config, task = fresh_run_config(parse_args(["--task", "maze", "--maze-size", "6", "--hidden-size", "24",
                                                "--num-heads", "4"]))  # fmt: skip
    with pytest.raises(ValueError, match=r"^--pos-encoding rope2d needs a head size divisible by 4, not 6 \(hidden"
                                         r" size 24 over 4 heads\)$"):  # fmt: skip
        check_run_config(config, task)
