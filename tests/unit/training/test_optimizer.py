"""MLXAdamW against a numpy re-implementation of MLX Swift's AdamW, rounding after every operation."""

import copy

import numpy as np
import pytest
import torch

from src.hrm.training.optimizer import OPTIMIZERS, MLXAdamW, build_optimizer


def round_bf16(x) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even), kept as float32."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32)


def reference_adamw(p, grads, lr, betas, eps, wd, bf16: bool):
    """MLX: scalars computed in float32 then cast to the array dtype; every op rounds to it; no bias correction."""
    r = round_bf16 if bf16 else (lambda x: np.asarray(x, dtype=np.float32))
    f = np.float32
    decay = r(f(1) - f(lr) * f(wd))
    b1, b2, c1, c2 = r(f(betas[0])), r(f(betas[1])), r(f(1) - f(betas[0])), r(f(1) - f(betas[1]))
    lr_, eps_ = r(f(lr)), r(f(eps))
    p = r(p)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for g in grads:
        g = r(g)
        p = r(p * decay)
        m = r(r(b1 * m) + r(c1 * g))
        v = r(r(b2 * v) + r(c2 * r(g * g)))
        p = r(p - r(r(lr_ * m) / r(r(np.sqrt(v)) + eps_)))
    return p, m, v


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_matches_reference_over_several_steps(dtype):
    rng = np.random.default_rng(0)
    shapes = [(7, 5), (11,), (3, 4, 2)]
    lr, betas, eps, wd = 3e-3, (0.9, 0.95), 1e-8, 0.05
    start = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [[(rng.normal(size=s) * 10 ** rng.uniform(-4, 1)).astype(np.float32) for s in shapes] for _ in range(6)]
    if dtype == torch.bfloat16:  # bf16 parameters and gradients hold bf16 values
        start = [round_bf16(x) for x in start]
        grads = [[round_bf16(g) for g in step] for step in grads]

    params = [torch.nn.Parameter(torch.from_numpy(x.copy()).to(dtype)) for x in start]
    optimizer = MLXAdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = torch.from_numpy(g).to(dtype)
        optimizer.step()

    for i, p in enumerate(params):
        history = [step[i] for step in grads]
        want_p, want_m, want_v = reference_adamw(start[i], history, lr, betas, eps, wd, bf16=dtype == torch.bfloat16)
        state = optimizer.state[p]
        assert state["exp_avg"].dtype == dtype and state["exp_avg_sq"].dtype == dtype
        np.testing.assert_array_equal(p.detach().float().numpy(), want_p)
        np.testing.assert_array_equal(state["exp_avg"].float().numpy(), want_m)
        np.testing.assert_array_equal(state["exp_avg_sq"].float().numpy(), want_v)


def test_no_bias_correction_first_step_size():
    """The first MLX step moves by lr·(1−b1)/√(1−b2) ≈ 0.447·lr, where bias-corrected AdamW moves by lr."""
    p = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    optimizer = MLXAdamW([p], lr=1e-2, betas=(0.9, 0.95), eps=0.0, weight_decay=0.0)
    p.grad = torch.tensor([1.0, -2.0, 3.0, -0.5], dtype=torch.float64)
    optimizer.step()
    expected = -1e-2 * 0.1 / np.sqrt(0.05) * np.sign(p.grad.numpy())
    np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-6)


def test_state_dict_round_trip_continues_identically():
    torch.manual_seed(0)
    make = lambda: [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(2).bfloat16())]  # noqa: E731
    torch.manual_seed(1)
    a = make()
    b = [torch.nn.Parameter(x.detach().clone()) for x in a]
    grads = [[torch.randn_like(x) for x in a] for _ in range(4)]
    opt_a = MLXAdamW(a, lr=1e-2)
    opt_b = MLXAdamW(b, lr=1e-2)
    for i, step in enumerate(grads):
        for pa, pb, g in zip(a, b, step):
            pa.grad, pb.grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
        if i == 1:  # rebuild b's optimizer from a saved state
            saved = opt_b.state_dict()
            opt_b = MLXAdamW(b, lr=1e-2)
            opt_b.load_state_dict(saved)
    for pa, pb in zip(a, b):
        assert torch.equal(pa, pb)


def test_frozen_parameters_are_not_passed():
    trainable = torch.nn.Parameter(torch.ones(3))
    frozen = torch.nn.Parameter(torch.ones(3), requires_grad=False)
    for name in ("mlx-adamw", "torch-adamw"):
        optimizer = build_optimizer(name, [trainable, frozen], lr=0.1)
        assert [p for g in optimizer.param_groups for p in g["params"]] == [trainable]
    with pytest.raises(ValueError, match="unknown optimizer"):
        build_optimizer("sgd", [trainable])


def test_torch_adamw_option_is_bias_corrected():
    p = torch.nn.Parameter(torch.zeros(3))
    optimizer = build_optimizer("torch-adamw", [p], lr=1e-2, weight_decay=0.0, eps=0.0)
    p.grad = torch.tensor([1.0, -1.0, 2.0])
    optimizer.step()
    np.testing.assert_allclose(p.detach().numpy(), [-1e-2, 1e-2, -1e-2], rtol=1e-5)


def tiny_hrm():
    from src.hrm.modeling import HRMACTInner, HRMACTModelConfig, TransformerConfig

    torch.manual_seed(0)
    return HRMACTInner(HRMACTModelConfig(transformers=TransformerConfig(num_layers=1, hidden_size=32, num_heads=2)))


def give_gradients(model, seed):
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        if not p.requires_grad:
            continue
        if p.ndim == 2:  # singular values spread evenly from 0.05 to 1
            rank = min(p.shape)
            u, _ = torch.linalg.qr(torch.randn(p.shape[0], rank, generator=g))
            v, _ = torch.linalg.qr(torch.randn(p.shape[1], rank, generator=g))
            grad = (u * torch.linspace(0.05, 1, rank)) @ v.T
        else:
            grad = torch.randn(p.shape, generator=g)
        p.grad = grad.to(p.dtype)


@pytest.mark.skipif("muon" not in OPTIMIZERS, reason="this torch has no torch.optim.Muon")
def test_muon_takes_the_reasoners_matrices_and_adamw_the_rest():
    model = tiny_hrm()
    optimizer = build_optimizer("muon", model.named_parameters(), lr=1e-2, weight_decay=0.0)
    muon, adamw = optimizer.parts
    muon_names = {name for name, p in model.named_parameters() if any(p is q for q in muon.param_groups[0]["params"])}
    assert muon_names and all(n.split(".")[0].endswith("_reasoner") for n in muon_names)
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    adamw_params = adamw.param_groups[0]["params"]
    adamw_names = {name for name, p in model.named_parameters() if any(p is q for q in adamw_params)}
    assert muon_names | adamw_names == trained and not muon_names & adamw_names
    assert {"input_embedding.embedding_weight", "q_act_head.weight", "cls_token"} & adamw_names


@pytest.mark.skipif("muon" not in OPTIMIZERS, reason="this torch has no torch.optim.Muon")
def test_a_muon_step_is_orthogonalised_for_matrices_and_adam_s_for_the_rest():
    """A matrix's update has near-equal singular values (Muon's orthogonalised momentum), where its gradient's spread
    widely; every other float32 weight moves by lr·sign(g), a bias-corrected Adam's first step (no weight decay)."""
    model = tiny_hrm()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = build_optimizer("muon", model.named_parameters(), lr=1e-2, weight_decay=0.0, eps=1e-12)
    give_gradients(model, seed=1)
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    optimizer.step()
    matrices = {id(p) for p in optimizer.parts[0].param_groups[0]["params"]}
    for name, p in model.named_parameters():
        if name not in grads:
            continue
        update = (p.detach() - before[name]).float()
        if id(p) in matrices:
            spread = lambda m: float(torch.quantile(torch.linalg.svdvals(m), 0.9) / torch.quantile(  # noqa: E731
                torch.linalg.svdvals(m), 0.1))
            assert spread(update) < 2 < 4 < spread(grads[name].float()), name
        elif p.dtype == torch.float32:  # (the bf16 Q head rounds a 1e-2 step of its -5 bias away)
            torch.testing.assert_close(update, -1e-2 * torch.sign(grads[name].float()), rtol=1e-3, atol=1e-6)


@pytest.mark.skipif("muon" not in OPTIMIZERS, reason="this torch has no torch.optim.Muon")
def test_muon_state_numbered_by_weight_loads_into_a_fresh_optimizer_and_steps_the_same():
    a, b = tiny_hrm(), tiny_hrm()
    opt_a = build_optimizer("muon", a.named_parameters(), lr=1e-2)
    for seed in (1, 2):
        give_gradients(a, seed)
        opt_a.step()
    saved = copy.deepcopy(opt_a.state_dict())  # as a file would hold it, no tensor shared with opt_a
    names = [name for name, p in a.named_parameters() if p.requires_grad]
    assert sorted(saved["state"]) == list(range(len(names)))  # every weight has state, numbered in model order
    b.load_state_dict(a.state_dict())
    opt_b = build_optimizer("muon", b.named_parameters(), lr=1e-2)
    opt_b.load_state_dict(saved)
    for model, optimizer in ((a, opt_a), (b, opt_b)):
        give_gradients(model, 3)
        optimizer.step()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(pa, pb), name
