"""Several torch optimizers stepped as one, for models whose parameters need different
optimizers (sparse embedding gradients take ``SparseAdam``, the dense rest ``Adam``; hidden
matrices ``Muon``, the rest ``AdamW``), and ``Muon`` orthogonalising in float32 on a CPU and
bfloat16 on a GPU (``ns_dtype``)."""

from __future__ import annotations

import math

import torch

__all__ = ["OPTIMIZERS", "Muon", "OptimizerChain", "build_optimizer", "muon_with_adamw"]

OPTIMIZERS = ("adamw", "muon")


def _n_params(groups: list[dict]) -> int:
    return sum(len(g["params"]) for g in groups)


class OptimizerChain:
    """Steps, zeroes and (de)serialises its optimizers together; ``param_groups`` is all of
    theirs, so the Trainer's schedule sets every rate. The state dict has torch's own format
    (parameters numbered across the optimizers in order), so checkpoints store it as any other.
    """

    def __init__(self, *optimizers: torch.optim.Optimizer):
        if not optimizers:
            raise ValueError("OptimizerChain needs at least one optimizer.")
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict]:
        return [g for opt in self.optimizers for g in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def state_dict(self) -> dict:
        state, groups, offset = {}, [], 0
        for opt in self.optimizers:
            sd = opt.state_dict()
            state.update({pid + offset: s for pid, s in sd["state"].items()})
            groups.extend({**g, "params": [p + offset for p in g["params"]]}
                          for g in sd["param_groups"])
            offset += _n_params(sd["param_groups"])
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the state has {len(groups)} parameter groups, the optimizers "
                             f"{len(self.param_groups)}")
        offset, first = 0, 0
        for opt in self.optimizers:
            n, k = _n_params(opt.param_groups), len(opt.param_groups)
            opt.load_state_dict({
                "state": {int(pid) - offset: s for pid, s in state_dict["state"].items()
                          if offset <= int(pid) < offset + n},
                "param_groups": [{**g, "params": [p - offset for p in g["params"]]}
                                 for g in groups[first:first + k]],
            })
            offset, first = offset + n, first + k


class Muon(torch.optim.Muon):
    """``torch.optim.Muon`` (momentum orthogonalised by Newton-Schulz iterations, Jordan et
    al. 2024; the same settings, state and updates) with the iterations in ``ns_dtype``.
    torch's runs them in bfloat16, which on a CPU without bf16 matrix units costs more than
    float32 (benchmarks/RESULTS.md, "Tiny Shakespeare"); with ``ns_dtype=torch.bfloat16`` the
    updates are torch's own."""

    def __init__(self, params, *, ns_dtype: torch.dtype = torch.float32, **kwargs):
        super().__init__(params, **kwargs)
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(
                        p.grad, memory_format=torch.preserve_format)
                buf = state["momentum_buffer"]
                buf.lerp_(p.grad, 1 - momentum)
                update = p.grad.lerp(buf, momentum) if group["nesterov"] else buf
                update = orthogonalise(update, group["ns_coefficients"], group["ns_steps"],
                                       group["eps"], self.ns_dtype)
                p.mul_(1 - lr * group["weight_decay"])
                p.add_(update.to(p.dtype), alpha=-_scaled_lr(lr, group["adjust_lr_fn"], p.shape))
        return loss


def _scaled_lr(lr: float, adjust: str | None, shape) -> float:
    """Muon's rate for a (rows, columns) matrix, as torch's ``adjust_lr_fn``: "original"
    (or None) scales by sqrt(max(1, rows / columns)) (Jordan et al.), "match_rms_adamw" by
    0.2 sqrt(max(rows, columns)) (Liu et al. 2025), so that updates have AdamW's RMS."""
    rows, columns = shape[:2]
    if adjust == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, columns))
    return lr * math.sqrt(max(1.0, rows / columns))


def orthogonalise(grad: torch.Tensor, coefficients, steps: int, eps: float,
                  dtype: torch.dtype, *, gram: bool = True) -> torch.Tensor:
    """``grad`` (2-D) mapped near the closest semi-orthogonal matrix by ``steps`` quintic
    Newton-Schulz iterations in ``dtype``: torch's ``_zeropower_via_newtonschulz``, but for the
    dtype. With ``gram``, a float32 (or float64) matrix at least twice as long as it is wide
    iterates on its Gram matrix instead (``_gram_newton_schulz``): the same polynomial, fewer
    FLOPs (benchmarks/RESULTS.md, "Muon's Newton-Schulz iterations")."""
    a, b, c = coefficients
    x = grad.to(dtype)
    wide = grad.size(0) > grad.size(1)
    if wide:
        x = x.T
    x = x.div(x.norm().clamp(min=eps))
    m, n = x.shape
    if gram and dtype in (torch.float32, torch.float64) and n >= 2 * m:
        x = _gram_newton_schulz(x, a, b, c, steps)
    else:
        for _ in range(steps):
            gram = x @ x.T
            x = torch.addmm(x, torch.addmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return x.T if wide else x


def _gram_newton_schulz(x: torch.Tensor, a: float, b: float, c: float,
                        steps: int) -> torch.Tensor:
    """The quintic iterations on x (m x n, m < n) carried out on its m x m Gram matrix: each
    step multiplies x by q = a + b g + c g^2 of g = x x^T, so the next Gram matrix is q g q
    (q is a polynomial in g) and the result is (q_k ... q_1) x. Two m x n products in all,
    instead of two a step; in float32 within 2e-5 of the direct iterations (test). Not in
    bfloat16, whose rounding the squared conditioning of g would amplify."""
    gram = x @ x.T
    product = None
    for step in range(steps):
        q = torch.addmm(gram, gram, gram, beta=b, alpha=c)
        q.diagonal().add_(a)
        product = q if product is None else q @ product
        if step < steps - 1:  # the last step's Gram matrix is not needed
            gram = q @ gram @ q
    return product @ x


def ns_dtype(device: torch.device) -> torch.dtype:
    """The dtype of Muon's Newton-Schulz iterations: bfloat16 on a GPU (torch's choice; its
    bf16 matrix units), float32 on a CPU, where bf16 products were slower on a CPU without
    AMX (benchmarks/RESULTS.md, "Tiny Shakespeare")."""
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def muon_with_adamw(model: torch.nn.Module, matrices, *, lr: float, weight_decay: float,
                    betas, eps: float, fused: bool) -> OptimizerChain:
    """``Muon`` on ``matrices`` (a model's hidden 2-D weights; its rate matched to AdamW's
    update size, Liu et al. 2025, so one ``lr`` serves both), AdamW on every other parameter
    (embeddings, output layer: weight decay; vectors: none)."""
    matrices = list(matrices)
    chosen = {id(p) for p in matrices}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in chosen]
    device = matrices[0].device if matrices else torch.device("cpu")
    muon = Muon(matrices, lr=lr, weight_decay=weight_decay, adjust_lr_fn="match_rms_adamw",
                ns_dtype=ns_dtype(device))
    groups = [g for g in _decay_groups(rest, weight_decay) if g["params"]]
    adamw = _adamw(groups, fused=fused, lr=lr, betas=betas, eps=eps)
    return OptimizerChain(muon, adamw)


def build_optimizer(model: torch.nn.Module, optimizer: str = "adamw", *, lr: float,
                    weight_decay: float, betas, eps: float, fused: bool):
    """The optimizer the Trainer steps. ``"muon"``: :func:`muon_with_adamw` over the model's
    ``hidden_matrices()``. ``"adamw"``: the model's own ``configure_optimizer(lr=,
    weight_decay=, betas=, eps=)`` where it has one (e.g. an :class:`OptimizerChain`), else
    AdamW over its ``optimizer_groups(weight_decay)``, else over its parameters with weight
    decay on matrices only."""
    if optimizer == "muon":
        if not hasattr(model, "hidden_matrices"):
            raise ValueError(f"optimizer='muon' needs a model that names its hidden matrices "
                             f"(hidden_matrices(), as GPT does); a {type(model).__name__} "
                             f"does not: use optimizer='adamw'.")
        return muon_with_adamw(model, model.hidden_matrices(), lr=lr,
                               weight_decay=weight_decay, betas=betas, eps=eps, fused=fused)
    if hasattr(model, "configure_optimizer"):
        return model.configure_optimizer(lr=lr, weight_decay=weight_decay, betas=betas, eps=eps)
    if hasattr(model, "optimizer_groups"):
        groups = model.optimizer_groups(weight_decay)
    else:
        groups = _decay_groups([p for p in model.parameters() if p.requires_grad], weight_decay)
    return _adamw(groups, fused=fused, lr=lr, betas=betas, eps=eps)


def _decay_groups(params: list, weight_decay: float) -> list[dict]:
    """AdamW's two groups: weight decay on matrices, none on vectors (biases, norms)."""
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def _adamw(groups, *, fused: bool, **kwargs) -> torch.optim.AdamW:
    """AdamW, fused where this torch and device have the kernel."""
    try:
        return torch.optim.AdamW(groups, fused=fused, **kwargs)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, **kwargs)
