"""Path metrics from predictions whose scores are known by construction."""

import numpy as np
import torch

from src.hrm.boardpath import PATH, generate_boards, parse_board, solve_board
from functools import partial

from src.hrm.boardpath import score_paths
from src.hrm.evaluation.paths import compute_path_metrics
from src.hrm.evaluation.inference import BatchPredictions


def predictions(act, budget, halted, segments):
    return BatchPredictions(torch.as_tensor(segments), torch.as_tensor(halted), torch.as_tensor(act),
                            torch.as_tensor(budget))


def test_rates_count_exact_shortest_and_valid_paths():
    board, size = parse_board("S...\n.##.\n...E\n....")
    answer = solve_board(board, size)
    other = board.copy()
    other[[4, 8, 9, 10]] = PATH  # the other shortest path
    detour = board.copy()
    detour[[4, 8, 12, 13, 14, 15]] = PATH
    boards = np.stack([board] * 4)
    act = np.stack([answer, other, detour, board])  # exact; shortest; valid only; nothing
    m = compute_path_metrics(boards, np.stack([answer] * 4), predictions(
        act, np.stack([answer] * 4), [True, True, True, False], [1, 2, 3, 4]), partial(score_paths, size=size))
    assert (m.act_exact_rate, m.act_shortest_rate, m.act_valid_rate) == (0.25, 0.5, 0.75)
    assert m.budget_shortest_rate == 1.0 and m.mean_act_segments == 2.5
    assert m.q_halted == 3 and m.q_halt_precision == 2 / 3
    assert m.mean_path_length == 5


def test_perfect_answers_score_everything():
    boards, answers = generate_boards(40, 8, seed=1, workers=1)
    perfect = predictions(answers, answers, np.ones(40, bool), np.ones(40, int))
    m = compute_path_metrics(boards, answers, perfect, partial(score_paths, size=8))
    assert m.act_exact_rate == m.act_shortest_rate == m.act_valid_rate == m.q_halt_precision == 1.0
    assert m.mean_path_length == ((answers == PATH).sum(1) + 1).mean()
