import json

import numpy as np
import pytest

from src.hrm.plot_metrics import graduations, main, read_metrics, rolling_mean

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def record(step, stage=0, accuracy=0.5):
    return {"step": step, "loss": 1.0 / step, "output_loss": 0.9 / step, "q_act_loss": 0.1 / step,
            "accuracy": accuracy, "q_act_accuracy": 0.9, "stage": stage, "elapsed": step * 0.03}


def write(path, records, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return path


def test_rolling_mean_equals_the_mean_of_the_last_window_values():
    values = np.random.default_rng(0).normal(size=50)
    expected = [values[max(0, i - 6):i + 1].mean() for i in range(50)]
    np.testing.assert_allclose(rolling_mean(values, 7), expected, rtol=1e-12)
    np.testing.assert_allclose(rolling_mean(values, 1), values)
    with pytest.raises(ValueError, match="window"):
        rolling_mean(values, 0)


def test_torn_last_line_is_skipped_and_resumed_steps_keep_the_last_record(tmp_path):
    records = [record(s) for s in (1, 2, 3)] + [record(3, accuracy=0.75), record(4)]
    metrics = read_metrics(write(tmp_path / "m.jsonl", records, tail='{"step": 5, "lo'))
    assert metrics.step.tolist() == [1, 2, 3, 4]
    assert metrics.values["accuracy"].tolist() == [0.5, 0.5, 0.75, 0.5]
    assert metrics.elapsed[-1] == pytest.approx(0.12)


@pytest.mark.parametrize(
    "content, message",
    [
        ('not json\n{"step": 1}\n', ":1: not a JSON object"),
        ('{"step": 1, "loss": 1}\n', ":1: record lacks output_loss, q_act_loss, accuracy"),
        ("", "holds no metrics records"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "m.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_metrics(path)


def test_graduations_are_the_steps_where_the_stage_rises(tmp_path):
    stages = [0, 0, 1, 1, 1, 2, 4, 4]
    metrics = read_metrics(write(tmp_path / "m.jsonl", [record(i + 1, s) for i, s in enumerate(stages)]))
    assert graduations(metrics) == [(3, 1), (6, 2), (7, 4)]


def test_cli_writes_a_png_and_reports_the_run(tmp_path, capsys):
    metrics = write(tmp_path / "metrics.jsonl", [record(s, stage=int(s > 20)) for s in range(1, 41)])
    assert main([str(metrics), "--window", "5"]) == 0
    png = tmp_path / "training-curve.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    out = capsys.readouterr().out
    assert "40 steps" in out and "stage 1 at step 21" in out
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "missing.jsonl")]) == 2
    assert capsys.readouterr().err.strip() == f"plot_metrics: error: {tmp_path / 'missing.jsonl'}: no such metrics file"
    metrics = write(tmp_path / "metrics.jsonl", [record(1)])
    assert main([str(metrics), "--out", str(tmp_path / "nowhere" / "x.png")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_a_dataset_run_is_plotted_by_epoch(tmp_path, capsys):
    records = [{**record(step), "epoch": step / 40} for step in range(1, 81)]
    for r in records:
        del r["stage"]
    path = write(tmp_path / "metrics.jsonl", records)
    metrics = read_metrics(path)
    assert metrics.progress == "epoch" and metrics.values["epoch"][-1] == 2.0 and graduations(metrics) == []
    assert main([str(path), "--window", "5"]) == 0
    out = capsys.readouterr().out
    assert "epoch 2.00" in out and "graduations" not in out
    assert (tmp_path / "training-curve.png").read_bytes().startswith(PNG_SIGNATURE)
    mixed = write(tmp_path / "mixed.jsonl", [records[0], record(2)])
    assert main([str(mixed)]) == 2  # a stage record in an epoch run: the file is not one run's
    assert "lacks epoch" in capsys.readouterr().err


def test_legs_go_on_from_the_leg_before(tmp_path, capsys):
    from src.hrm.plot_metrics import join_legs

    def leg(name, steps, stage=None):
        rows = []
        for s in range(1, steps + 1):
            r = {**record(s), "puzzles": 10 * s, "solved": s / steps}
            if stage is None:
                del r["stage"]
            rows.append(r)
        return write(tmp_path / name, rows)

    first, second = leg("a.jsonl", 4, stage=0), leg("b.jsonl", 3)
    joined = join_legs([read_metrics(first), read_metrics(second)])
    assert joined.step.tolist() == [1, 2, 3, 4, 5, 6, 7] and joined.legs == (5,)
    assert joined.progress == "puzzles" and joined.values["puzzles"].tolist() == [10, 20, 30, 40, 50, 60, 70]
    np.testing.assert_allclose(joined.elapsed, [0.03, 0.06, 0.09, 0.12, 0.15, 0.18, 0.21])
    assert joined.values["solved"][-1] == 1.0
    out = tmp_path / "legs.png"
    assert main([str(first), str(second), "--out", str(out), "--window", "2"]) == 0
    assert out.read_bytes().startswith(PNG_SIGNATURE) and "7 steps (last 7); 2 legs" in capsys.readouterr().out
