"""Training on mazes: the same trainer, exact resume through a curriculum's graduations, rows from a file."""

import json

from test_train import CPU, metrics, tiny_config, without_timing
from training_runs import run_steps, straight_and_resumed

from src.hrm.maze import generate_mazes, score_paths, write_maze_csv
from src.hrm.tasks import build_task
from src.hrm.training.run import new_run


def maze_config(**settings):
    config = tiny_config(batch=8, lr=3e-3, halt_max_steps=3)
    config.task = {"name": "maze", "size": 8, "min_path": 8, "wall_min": 0.3, "wall_max": 0.5, **settings}
    task = build_task(config.task)
    config.task = task.settings()
    config.model.seq_len, config.model.vocab_size = task.seq_len, task.vocab_size
    return config


def test_resume_through_graduations_is_bit_identical(tmp_path):
    curriculum = {"window": 2, "threshold": 0.0, "min_steps": 3, "start_stage": 0}  # graduate every 3 steps
    config = maze_config(region_curriculum="4,6", curriculum=curriculum)
    straight, split = straight_and_resumed(config, tmp_path, steps=10, stop=5)
    assert without_timing(metrics(split)) == without_timing(metrics(straight))
    assert [r["stage"] for r in metrics(straight)][2:8:3] == [1, 2]  # both graduations fell in the run
    assert all("solved" in r for r in metrics(straight))


def test_the_rows_of_a_file_are_its_mazes(tmp_path):
    mazes, answers, _ = generate_mazes(6, size=8, min_path=8, seed=3, workers=1)
    write_maze_csv(tmp_path / "train.csv", mazes, answers, [8] * 6, "test")
    run = new_run(maze_config(data=str(tmp_path / "train.csv")), CPU, workers=1)
    try:
        inputs, targets = run.rows.queue.inputs[0, :8].numpy(), run.rows.queue.targets[0, :8].numpy()
    finally:
        run.close()
    assert score_paths(inputs, targets, 8)[1].all()
    assert sorted(int(row.sum()) for row in inputs[:6]) == sorted(int(row.sum()) for row in mazes)  # symmetries of each
    assert json.loads(json.dumps(run.rows.meta())) == {"taken": run.rows.taken}
