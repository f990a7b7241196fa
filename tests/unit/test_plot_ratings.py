"""plot_ratings: evaluate --json reports to a solve-rate-against-rating PNG."""

import json

import pytest
from PIL import Image

from src.hrm.plot_ratings import main, read_report


def report(path, buckets: dict, checkpoint="checkpoints/model.safetensors"):
    per_rating = {name: {"num_puzzles": n, "act_solve_rate": rate} for name, (n, rate) in buckets.items()}
    path.write_text(json.dumps({"checkpoint": checkpoint, "act_solve_rate": 0.5, "per_rating": per_rating}))
    return path


def test_buckets_are_read_in_rating_order_and_small_ones_left_out(tmp_path):
    path = report(tmp_path / "r.json", {"50+": (100, 0.25), "10-19": (300, 0.75), "0": (5, 1.0), "20-49": (40, 0.5)})
    curve = read_report(path, min_count=20)
    assert (curve.lower_edges, curve.solve_rates, curve.counts) == ([10, 20, 50], [0.75, 0.5, 0.25], [300, 40, 100])
    assert curve.label == "model"
    assert read_report(path, "mine", min_count=1).lower_edges == [0, 10, 20, 50]


def test_the_command_writes_one_png_with_a_line_per_report(tmp_path, capsys):
    a = report(tmp_path / "a.json", {"10-49": (1000, 0.64), "50+": (1000, 0.38)})
    b = report(tmp_path / "b.json", {"10-49": (1000, 0.86), "50+": (1000, 0.68)})
    out = tmp_path / "ratings.png"
    assert main([str(a), str(b), "--label", "shipped", "--label", "hard", "--out", str(out)]) == 0
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] > 400
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not an evaluate --json report"),
        (json.dumps({"act_solve_rate": 1.0}), "has no per_rating buckets"),
        (json.dumps({"per_rating": {"hard": {"num_puzzles": 3, "act_solve_rate": 1.0}}}), "is not an evaluate rating"),
        (json.dumps({"per_rating": {"10-49": {"num_puzzles": 3, "act_solve_rate": 1.0}}}), "no bucket holds"),
    ],
)
def test_bad_reports_are_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main([str(path), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


def test_missing_file_and_label_count(tmp_path, capsys):
    assert main([str(tmp_path / "none.json"), "--out", str(tmp_path / "x.png")]) == 2
    assert "none.json" in capsys.readouterr().err
    a = report(tmp_path / "a.json", {"10-49": (100, 0.5)})
    with pytest.raises(SystemExit) as exit_:
        main([str(a), "--label", "x", "--label", "y", "--out", str(tmp_path / "x.png")])
    assert exit_.value.code == 2
