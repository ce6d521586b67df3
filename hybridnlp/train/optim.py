"""Several torch optimizers stepped as one, for models whose parameters need different
optimizers (sparse embedding gradients take ``SparseAdam``, the dense rest ``Adam``)."""

from __future__ import annotations

import torch

__all__ = ["OptimizerChain"]


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
