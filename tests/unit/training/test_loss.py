"""sudoku_loss against an independent float64 computation written out with explicit loops."""

import math

import pytest
import torch

from src.hrm.modeling import ACTConfig, HiddenStates, HRMACTInner, HRMACTModelConfig, TransformerConfig
from src.hrm.training.loss import segment_loss, sudoku_loss

HIDDEN = 32


def tiny_model(exploration=0.5, halt_max_steps=16, seed=0, cycles=2):
    torch.manual_seed(seed)
    config = HRMACTModelConfig(
        high_level_cycles=cycles,
        low_level_cycles=cycles,
        transformers=TransformerConfig(num_layers=1, hidden_size=HIDDEN, num_heads=2),
        act=ACTConfig(halt_max_steps=halt_max_steps, halt_exploration_probability=exploration),
    )
    model = HRMACTInner(config)
    with torch.no_grad():  # a Q head that is not all zeros, so that halting varies across rows
        model.q_act_head.weight.copy_(torch.randn(2, HIDDEN) * 0.5)
        model.q_act_head.bias.copy_(torch.tensor([0.3, -0.2]))
    return model


def batch(model, rows=24, seed=1):
    """Random boards; a third of the rows get targets equal to the model's own predictions (solved rows)."""
    g = torch.Generator().manual_seed(seed)
    targets = torch.randint(1, 10, (rows, 81), generator=g)
    blanks = torch.rand(rows, 81, generator=g) < torch.linspace(0.02, 0.7, rows)[:, None]
    inputs = torch.where(blanks, torch.zeros_like(targets), targets)
    high = torch.randn(rows, 82, HIDDEN, generator=g)
    low = torch.randn(rows, 82, HIDDEN, generator=g)
    hidden = HiddenStates(high, low)
    with torch.no_grad():
        predicted = model(hidden, inputs).output.argmax(-1)
    solved = torch.arange(rows) % 3 == 0
    targets = torch.where(solved[:, None] & blanks, predicted.clamp(min=1), targets)
    segments = torch.tensor([0, 3, 14, 15, 16, 7][:6] * (rows // 6))
    return hidden, inputs, targets, segments


def bce(x, y):
    return max(x, 0.0) - x * y + math.log1p(math.exp(-abs(x)))


def reference(model, hidden, inputs, targets, segments, explore, min_halt_draw):
    """Float64, one cell and one row at a time."""
    act = model.config.act
    with torch.no_grad():
        first = model(hidden, inputs)
        second = model(first.hidden_states, inputs)
    logits = first.output.double()
    rows = inputs.shape[0]
    total, count, correct_cells = 0.0, 0, 0
    solved, halted, q_terms, q_correct = [], [], [], 0
    for b in range(rows):
        row_ok = True
        for c in range(81):
            z = logits[b, c].tolist()
            t = int(targets[b, c])
            given = int(inputs[b, c]) != 0
            if not given:
                total += math.log(sum(math.exp(v) for v in z)) - z[t]
                count += 1
            ok = given or max(range(len(z)), key=lambda k: z[k]) == t
            correct_cells += ok
            row_ok &= ok
        solved.append(row_ok)
        qh, qc = float(first.q_act_halt[b]), float(first.q_act_continue[b])
        nxt = int(segments[b]) + 1
        last = nxt > act.halt_max_steps
        min_halt = int(min_halt_draw[b]) if bool(explore[b]) else 0
        halted.append((last or qh > qc) and nxt > min_halt)
        nh, nc = float(second.q_act_halt[b]), float(second.q_act_continue[b])
        target = 1 / (1 + math.exp(-(nh if last else max(nh, nc))))
        q_terms.append((bce(qh, float(row_ok)) + bce(qc, target)) / 2)
        q_correct += (qh >= 0) == row_ok
    output_loss = total / count
    q_loss = sum(q_terms) / rows
    return dict(
        loss=output_loss + q_loss,
        output_loss=output_loss,
        q_act_loss=q_loss,
        output_accuracy=correct_cells / (rows * 81),
        q_act_halt_accuracy=q_correct / rows,
        row_solved=solved,
        is_halted=halted,
    )


def test_matches_float64_reference_with_the_same_draws():
    model = tiny_model(exploration=0.5)
    hidden, inputs, targets, segments = batch(model)
    result = sudoku_loss(model, hidden, inputs, targets, segments, generator=torch.Generator().manual_seed(7))

    # The exploration draws, in the documented order: one uniform per row, then one min_halt per row.
    g = torch.Generator().manual_seed(7)
    explore = torch.rand(len(segments), generator=g) < 0.5
    min_halt = torch.randint(2, 17, (len(segments),), generator=g)
    want = reference(model, hidden, inputs, targets, segments, explore, min_halt)

    for name in ("loss", "output_loss", "q_act_loss", "output_accuracy", "q_act_halt_accuracy"):
        assert getattr(result, name).dtype == torch.float32
        assert float(getattr(result, name).detach()) == pytest.approx(want[name], rel=1e-5), name
    assert result.row_solved.tolist() == want["row_solved"]
    assert result.is_halted.tolist() == want["is_halted"]
    # The batch must exercise every branch for this test to mean something.
    assert 0 < sum(want["row_solved"]) < len(segments)
    assert 0 < sum(want["is_halted"]) < len(segments)
    assert torch.equal(result.hidden_states.high_level, model(hidden, inputs).hidden_states.high_level)


def test_halt_is_forced_strictly_after_halt_max_steps():
    model = tiny_model(exploration=0.0, halt_max_steps=16)
    with torch.no_grad():  # the Q head never asks to halt
        model.q_act_head.weight.zero_()
        model.q_act_head.bias.copy_(torch.tensor([-5.0, 5.0]))
    hidden, inputs, targets, _ = batch(model, rows=6)
    segments = torch.tensor([0, 1, 14, 15, 16, 17])
    result = sudoku_loss(model, hidden, inputs, targets, segments)
    # Segment 16 (segments=15 already run) does not halt; the 17th does.
    assert result.is_halted.tolist() == [False, False, False, False, True, True]


def test_exploration_frequency_and_zero_probability_determinism():
    rows = 600
    model = tiny_model(exploration=0.5, cycles=1)  # one reasoner pass per forward: many rows stay cheap
    with torch.no_grad():  # the Q head always asks to halt, so only exploration keeps rows running
        model.q_act_head.weight.zero_()
        model.q_act_head.bias.copy_(torch.tensor([5.0, -5.0]))
    inputs = torch.zeros(rows, 81, dtype=torch.long)
    targets = torch.ones(rows, 81, dtype=torch.long)
    hidden = HiddenStates(*model.initial_hidden_states.__dict__.values())
    hidden = HiddenStates(hidden.high_level.view(1, 1, -1), hidden.low_level.view(1, 1, -1))
    segments = torch.tensor([0, 8])[torch.arange(rows) % 2]
    result = sudoku_loss(model, hidden, inputs, targets, segments, generator=torch.Generator().manual_seed(3))
    running = ~result.is_halted
    # P(keep running) = p·P(min_halt > segments + 1 - 1) with min_halt uniform on {2..16}.
    for seg, probability in ((0, 0.5), (8, 0.5 * 8 / 15)):
        n = int((segments == seg).sum())
        observed = int(running[segments == seg].sum())
        sd = math.sqrt(n * probability * (1 - probability))
        assert abs(observed - n * probability) < 5 * sd, (seg, observed, n * probability)

    model.config.act.halt_exploration_probability = 0.0
    few = slice(0, 40)
    outcomes = {
        tuple(
            sudoku_loss(model, hidden, inputs[few], targets[few], segments[few], torch.Generator().manual_seed(s))
            .is_halted.tolist()
        )
        for s in range(3)
    }
    assert outcomes == {(True,) * 40}


def test_gradients_reach_trained_parameters_only():
    model = tiny_model()
    hidden, inputs, targets, segments = batch(model, rows=6)
    sudoku_loss(model, hidden, inputs, targets, segments).loss.backward()
    assert model.q_act_head.weight.grad is not None and model.q_act_head.weight.grad.dtype == torch.bfloat16
    assert model.output_head.weight.grad.abs().sum() > 0
    assert model.initial_hidden_states_params.high_level.grad is None


def initial_state_gradients(model, hidden, inputs, targets, segments):
    """The gradient of segment_loss to the learned initial states, (high, low), with fixed draws (no exploration)."""
    model.zero_grad()
    rows = inputs.shape[0]
    never = torch.ones(rows)  # draws of 1: exploration never fires, so halting does not depend on them
    segment_loss(model, hidden, inputs, targets, torch.tensor(segments), never, torch.full((rows,), 2)).loss.backward()
    params = model.initial_hidden_states_params
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in (params.high_level, params.low_level)]


def test_learned_initial_states_take_the_gradient_of_first_segment_rows_only():
    """Rows with segments == 0 carry copies of the initial states: the gradient of the loss to the states is the
    one the same rows give with the states themselves put in their place (built here by hand), and rows past
    their first segment give none. Values alone cannot show this: the copies equal the states."""
    torch.manual_seed(0)
    model = HRMACTInner(HRMACTModelConfig(
        high_level_cycles=2, low_level_cycles=2, learned_initial_states=True,
        transformers=TransformerConfig(num_layers=1, hidden_size=HIDDEN, num_heads=2),
    ))  # fmt: skip
    _, inputs, targets, _ = batch(model, rows=6)
    inputs, targets = inputs[:2], targets[:2]
    params = model.initial_hidden_states_params
    copies = HiddenStates(params.high_level.detach().expand(2, 82, HIDDEN).clone(),
                          params.low_level.detach().expand(2, 82, HIDDEN).clone())  # fmt: skip
    # Row 0 on its first segment, row 1 carried on from its third with other states.
    carried = HiddenStates(torch.cat([copies.high_level[:1], torch.randn(1, 82, HIDDEN)]),
                           torch.cat([copies.low_level[:1], torch.randn(1, 82, HIDDEN)]))  # fmt: skip
    got = initial_state_gradients(model, carried, inputs, targets, [0, 3])
    # By hand: row 0's states are the parameters themselves; segments 3 and 3 restart no row.
    by_hand = HiddenStates(torch.cat([params.high_level.expand(1, 82, HIDDEN), carried.high_level[1:]]),
                           torch.cat([params.low_level.expand(1, 82, HIDDEN), carried.low_level[1:]]))  # fmt: skip
    want = initial_state_gradients(model, by_hand, inputs, targets, [3, 3])
    for g, w in zip(got, want):
        assert w.abs().sum() > 0  # the reference is not trivially zero
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-7)
    # Rows on their second segment, even if they carry copies of the initial states, give the states nothing.
    for g in initial_state_gradients(model, copies, inputs, targets, [1, 1]):
        assert g.abs().sum() == 0


def test_winner_take_all_trains_each_groups_lowest_loss_copy_only():
    """copies=3: rows come as groups of 3 copies of one puzzle. By hand: each row's loss alone (a batch of one),
    the winner of each group by it, then the plain loss of a batch of the winners; the winner-take-all loss, its
    gradient and its halts are those. Fresh copies after the first start from their states plus the noise."""
    from src.hrm.training.loss import segment_loss

    copies, groups = 3, 4
    model = tiny_model(exploration=0.0)
    hidden, inputs, targets, _ = batch(model, rows=24)
    rows = copies * groups
    inputs = inputs[:groups].repeat_interleave(copies, 0)
    targets = targets[:groups].repeat_interleave(copies, 0)
    hidden = HiddenStates(hidden.high_level[:rows], hidden.low_level[:rows])
    segments = torch.tensor([0, 0, 0, 2, 2, 2, 0, 0, 0, 5, 5, 5])
    g = torch.Generator().manual_seed(5)
    noise = HiddenStates(torch.randn(rows, 82, HIDDEN, generator=g), torch.randn(rows, 82, HIDDEN, generator=g))
    explore, min_halt = torch.ones(rows), torch.full((rows,), 2)
    # By hand: the states each copy starts from.
    fresh = ((segments == 0) & (torch.arange(rows) % copies > 0))[:, None, None].float()
    started = HiddenStates(hidden.high_level + fresh * noise.high_level, hidden.low_level + fresh * noise.low_level)

    def plain(index):
        pick = lambda t: t[index]  # noqa: E731
        states = HiddenStates(pick(started.high_level), pick(started.low_level))
        return segment_loss(model, states, pick(inputs), pick(targets), pick(segments), pick(explore), pick(min_halt))

    alone = torch.stack([plain(torch.tensor([k])).loss.detach() for k in range(rows)])
    winners = torch.arange(0, rows, copies) + alone.view(groups, copies).argmin(1)
    assert len(set((winners % copies).tolist())) > 1  # not always the first copy

    model.zero_grad()
    want = plain(winners)
    want.loss.backward()
    want_grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    got = segment_loss(model, hidden, inputs, targets, segments, explore, min_halt, copy_noise=noise, copies=copies)
    got.loss.backward()
    for field in ("loss", "output_loss", "q_act_loss", "output_accuracy", "q_act_halt_accuracy"):
        torch.testing.assert_close(getattr(got, field), getattr(want, field), rtol=1e-5, atol=1e-6)
    for name, p in model.named_parameters():
        if name in want_grads:
            torch.testing.assert_close(p.grad, want_grads[name], rtol=1e-4, atol=1e-6)
    assert torch.equal(got.is_halted, want.is_halted.repeat_interleave(copies))  # a group halts with its winner
    assert torch.equal(got.hidden_states.high_level[winners], want.hidden_states.high_level)  # every copy carried
