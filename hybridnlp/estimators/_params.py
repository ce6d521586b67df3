"""skorch-style dunder parameters (``module__n_layer=2``, ``optimizer__lr=1e-3``) for
estimators whose keyword-only ``__init__`` also takes ``**kwargs``."""

from __future__ import annotations

import difflib

__all__ = ["DunderParamsMixin"]


class DunderParamsMixin:
    """Stores ``prefix__name`` keyword arguments as attributes, reports them in ``get_params``
    and accepts them in ``set_params``, rejecting unknown ones with a suggestion.

    Subclasses define ``_dunder_params``: ``{prefix: allowed names}``.
    """

    _dunder_params: dict[str, tuple[str, ...]] = {}

    def _all_dunder_names(self) -> list[str]:
        return [f"{p}__{n}" for p, names in self._dunder_params.items() for n in names]

    def _check_dunder(self, key: str) -> None:
        prefix, _, name = key.partition("__")
        if prefix in self._dunder_params and name in self._dunder_params[prefix]:
            return
        candidates = self._all_dunder_names()
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        if not close:  # "lr" -> "optimizer__lr": match on the part after the prefix
            short = {c.partition("__")[2]: c for c in candidates}
            hit = difflib.get_close_matches(name or key, short, n=1, cutoff=0.75)
            close = [short[hit[0]]] if hit else []
        hint = f" Did you mean {close[0]}?" if close else ""
        if prefix in self._dunder_params:
            allowed = ", ".join(f"{prefix}__{n}" for n in self._dunder_params[prefix])
            raise ValueError(f"{key} is not a parameter of {type(self).__name__}.{hint} "
                             f"Allowed {prefix} parameters: {allowed}.")
        raise TypeError(f"{type(self).__name__} got an unexpected keyword argument "
                        f"{key!r}.{hint}")

    def _set_dunder(self, kwargs: dict) -> None:
        for key, value in kwargs.items():
            self._check_dunder(key)
            setattr(self, key, value)

    def _dunder(self, prefix: str) -> dict:
        """The dunder parameters set for ``prefix``, without the prefix."""
        start = prefix + "__"
        return {k[len(start):]: v for k, v in vars(self).items() if k.startswith(start)}

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep=deep)
        prefixes = tuple(f"{p}__" for p in self._dunder_params)
        params.update({k: v for k, v in vars(self).items() if k.startswith(prefixes)})
        return params

    def set_params(self, **params):
        prefixes = tuple(f"{p}__" for p in self._dunder_params)
        self._set_dunder({k: v for k, v in params.items() if k.startswith(prefixes)})
        rest = {k: v for k, v in params.items() if not k.startswith(prefixes)}
        return super().set_params(**rest) if rest else self
