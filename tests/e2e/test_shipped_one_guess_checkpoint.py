"""The one-guess checkpoint (docs/model-card-one-guess.md): the default model's moving average in bf16, its ACT
segment limit 32, and it solves few-givens puzzles of the held-out set on a CPU-only machine through `evaluate`,
halting only when right."""

import pathlib

import pytest
from shipped_checkpoints import assert_default_model_in_bf16, evaluate_on_cpu

from src.hrm.checkpoint import read_metadata

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / "checkpoints" / "hrm-act-sudoku-one-guess.safetensors"
FEW_GIVENS_SET = REPO / "data" / "sudoku-few-givens-test.csv"


def test_one_guess_checkpoint_is_the_default_models_average_in_bf16_trained_to_32_segments():
    assert_default_model_in_bf16(CHECKPOINT, halt_max_steps=32)
    assert read_metadata(CHECKPOINT)["weights"] == "moving average, decay 0.999"


@pytest.mark.slow  # over 10 s on 2 cores
def test_evaluate_solves_most_of_a_sample_rated_20_to_49_and_halts_only_when_right():
    # Rows 550-573 of the set: the first 24 of its 20-49 bucket (92% on the whole bucket, the model card). ACT
    # only (--segments 1): the batch stops once every puzzle has halted instead of running all 32 segments.
    report = evaluate_on_cpu(CHECKPOINT, FEW_GIVENS_SET, "--limit", "574", "--min-rating", "20", "--segments", "1")
    assert report["num_puzzles"] == 24
    assert report["act_solved"] >= 18
    assert report["q_halted_solved"] == report["q_halted"]
