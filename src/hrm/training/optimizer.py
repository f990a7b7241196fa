"""The original's optimizer, MLX Swift's AdamW, and the choice between it and PyTorch's AdamW.

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


OPTIMIZERS = ("mlx-adamw", "torch-adamw")


def build_optimizer(
    name: str, params, lr: float = 1e-4, betas=(0.9, 0.95), eps: float = 1e-8, weight_decay: float = 0.01, device=None
) -> torch.optim.Optimizer:
    """'mlx-adamw' (the original's numerics) or 'torch-adamw' (bias-corrected, fused on CUDA)."""
    params = [p for p in params if p.requires_grad]
    if name == "mlx-adamw":
        return MLXAdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    if name == "torch-adamw":
        cuda = device is not None and torch.device(device).type == "cuda"
        return torch.optim.AdamW(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, fused=True if cuda else None,
            foreach=None if cuda else True,
        )  # fmt: skip
    raise ValueError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}")
