"""The original's optimizer, MLX Swift's AdamW, and the choice between it, PyTorch's AdamW and Muon.

MLX Swift's AdamW differs from `torch.optim.AdamW` in two ways that change the numbers:
it has no bias correction (the first steps are lr·(1-b1)/sqrt(1-b2) ≈ 0.45·lr instead of lr),
and it keeps the moments in the parameter's dtype, so the bf16 Q head is updated in bf16
with rounding after every operation.
"""

import torch


class MLXAdamW(torch.optim.Optimizer):
    """AdamW exactly as MLX Swift computes it, per parameter:

        p ← p·(1 − lr·wd);  m ← b1·m + (1−b1)·g;  v ← b2·v + (1−b2)·g²;  p ← p − lr·m/(√v + eps)

    Scalars are computed in float32 and then converted to the parameter's dtype (MLX's weak
    scalars), and every operation rounds to that dtype, in the order written above.
    """

    def __init__(self, params, lr: float = 1e-4, betas=(0.9, 0.95), eps: float = 1e-8, weight_decay: float = 0.01):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid AdamW settings: lr={lr}, betas={betas}, eps={eps}, weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))
        self._scalar_cache: dict = {}

    def _scalars(self, group: dict, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        """The step's scalars as 0-dim tensors of the parameters' dtype, cached while the hyper-parameters hold."""
        b1, b2 = group["betas"]
        key = (group["lr"], b1, b2, group["eps"], group["weight_decay"], dtype, device)
        if key not in self._scalar_cache:
            f32 = lambda x: torch.tensor(x, dtype=torch.float32)  # noqa: E731
            one, lr = f32(1.0), f32(group["lr"])
            values = {
                "decay": one - lr * f32(group["weight_decay"]),
                "b1": f32(b1),
                "one_minus_b1": one - f32(b1),
                "b2": f32(b2),
                "one_minus_b2": one - f32(b2),
                "lr": lr,
                "eps": f32(group["eps"]),
            }
            self._scalar_cache[key] = {name: value.to(dtype=dtype, device=device) for name, value in values.items()}
        return self._scalar_cache[key]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            by_kind: dict[tuple, tuple[list, ...]] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                lists = by_kind.setdefault((p.dtype, p.device), ([], [], [], []))
                for target, tensor in zip(lists, (p, p.grad, state["exp_avg"], state["exp_avg_sq"])):
                    target.append(tensor)
            for (dtype, device), (params, grads, exp_avgs, exp_avg_sqs) in by_kind.items():
                s = self._scalars(group, dtype, device)
                torch._foreach_mul_(params, s["decay"])
                # m = b1·m + (1−b1)·g
                torch._foreach_mul_(exp_avgs, s["b1"])
                torch._foreach_add_(exp_avgs, torch._foreach_mul(grads, s["one_minus_b1"]))
                # v = b2·v + (1−b2)·g²
                scaled_squares = torch._foreach_mul(grads, grads)
                torch._foreach_mul_(scaled_squares, s["one_minus_b2"])
                torch._foreach_mul_(exp_avg_sqs, s["b2"])
                torch._foreach_add_(exp_avg_sqs, scaled_squares)
                # p = p − (lr·m) / (√v + eps)
                denominators = torch._foreach_sqrt(exp_avg_sqs)
                # A list of 0-dim tensors: the single-Tensor overload of _foreach_add_ reads it back on CUDA (a sync).
                torch._foreach_add_(denominators, [s["eps"]] * len(denominators))
                updates = torch._foreach_mul(exp_avgs, s["lr"])
                torch._foreach_div_(updates, denominators)
                torch._foreach_sub_(params, updates)
        return loss


class MuonWithAdamW:
    """`--optimizer muon` (not in the original): PyTorch's Muon for the reasoners' weight matrices, PyTorch's AdamW
    for every other weight (embeddings, the output and Q heads, the CLS token, learned initial states), as Muon is
    meant to be used. Muon's step is scaled to the RMS an AdamW step has (`adjust_lr_fn="match_rms_adamw"`), so
    that one learning rate and weight decay serve both parts.

    To the trainer it is one optimizer: `state` maps each weight to its state, and `state_dict` numbers the weights
    in the order they were given, as a single torch optimizer does.
    """

    def __init__(self, named_params, lr: float, betas, eps: float, weight_decay: float, device=None):
        named = [(name, p) for name, p in named_params if p.requires_grad]
        if any(not name for name, _ in named):
            raise ValueError("--optimizer muon needs the model's parameter names to find its weight matrices")
        self.index = {id(p): i for i, (_, p) in enumerate(named)}  # a weight's number in state_dict
        matrices = [p for name, p in named if _muon_weight(name, p)]
        others = [p for name, p in named if not _muon_weight(name, p)]
        self.parts = [
            torch.optim.Muon(matrices, lr=lr, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw"),
            _torch_adamw(others, lr, betas, eps, weight_decay, device),
        ]

    @property
    def state(self) -> dict:
        return {p: s for part in self.parts for p, s in part.state.items()}

    @property
    def param_groups(self) -> list[dict]:
        return [group for part in self.parts for group in part.param_groups]

    def step(self) -> None:
        for part in self.parts:
            part.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"state": {self.index[id(p)]: s for p, s in self.state.items()}, "param_groups": []}

    def load_state_dict(self, state_dict: dict) -> None:
        index = self.index
        for part in self.parts:
            local = part.state_dict()
            order = [p for group in part.param_groups for p in group["params"]]
            local["state"] = {j: state_dict["state"][index[id(p)]] for j, p in enumerate(order)
                              if state_dict["state"].get(index[id(p)])}  # fmt: skip
            part.load_state_dict(local)


def _muon_weight(name: str, p: torch.Tensor) -> bool:
    return p.ndim == 2 and name.split(".")[0] in ("high_level_reasoner", "low_level_reasoner")


def _torch_adamw(params, lr, betas, eps, weight_decay, device) -> torch.optim.AdamW:
    cuda = device is not None and torch.device(device).type == "cuda"
    return torch.optim.AdamW(
        params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, fused=True if cuda else None,
        foreach=None if cuda else True,
    )  # fmt: skip


# Muon is PyTorch's own from 2.9 on; with an older torch the choice is not offered.
OPTIMIZERS = ("mlx-adamw", "torch-adamw", *(("muon",) if hasattr(torch.optim, "Muon") else ()))


def build_optimizer(
    name: str, params, lr: float = 1e-4, betas=(0.9, 0.95), eps: float = 1e-8, weight_decay: float = 0.01, device=None
):
    """'mlx-adamw' (the original's numerics), 'torch-adamw' (bias-corrected, fused on CUDA) or 'muon'
    (MuonWithAdamW). `params`: tensors, or (name, tensor) pairs as `named_parameters()` gives (muon needs them)."""
    named = [(item if isinstance(item, tuple) else ("", item)) for item in params]
    if name == "muon" and "muon" in OPTIMIZERS:
        return MuonWithAdamW(named, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, device=device)
    params = [p for _, p in named if p.requires_grad]
    if name == "mlx-adamw":
        return MLXAdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "torch-adamw":
        return _torch_adamw(params, lr, betas, eps, weight_decay, device)
    if name == "muon":
        raise ValueError(f"--optimizer muon needs torch.optim.Muon (PyTorch 2.9 or later); this is {torch.__version__}")
    raise ValueError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}")
