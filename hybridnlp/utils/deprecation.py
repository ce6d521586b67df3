"""Deprecations: old call forms keep working for one release, with a FutureWarning naming the
new form."""

from __future__ import annotations

import functools
import os
import sys
import warnings

__all__ = ["RenamedParams", "positional_deprecated", "under_new_names", "warn_deprecated",
           "warn_renamed", "warn_renamed_function"]


def warn_renamed(owner: str, old: str, new: str) -> None:
    """The FutureWarning of a parameter given by its old name (accepted for one release),
    pointing at the caller's line."""
    warnings.warn(f"{owner}({old}=...) is deprecated and will be removed in the next "
                  f"release; use {new}=... instead.", FutureWarning, stacklevel=_callers_level())


def warn_renamed_function(old: str, new: str) -> None:
    """The FutureWarning of a function called by its old name, pointing at the caller."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use {new} "
                  f"instead.", FutureWarning, stacklevel=_callers_level())


def warn_deprecated(message: str) -> None:
    """A FutureWarning (``message``: what is deprecated and what to use instead), pointing
    at the caller's line."""
    warnings.warn(message, FutureWarning, stacklevel=_callers_level())


def _callers_level() -> int:
    """The ``stacklevel`` (for a ``warnings.warn`` in the function calling this one) of the
    first frame outside the hybridnlp package: the user's line, however deep the estimator's
    ``__init__`` chain is."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def positional_deprecated(*names: str):
    """Decorate a keyword-only ``__init__`` so that the first arguments may still be given
    positionally (as ``names``, in order), with a FutureWarning. The signature stays the
    keyword-only one (what scikit-learn's ``get_params`` reads)."""

    def decorate(init):
        @functools.wraps(init)
        def wrapper(self, *args, **kwargs):
            if args:
                cls = type(self).__name__
                if len(args) > len(names):
                    raise TypeError(f"{cls} takes at most {len(names)} positional arguments "
                                    f"({', '.join(names)}), got {len(args)}; pass keywords.")
                given = names[:len(args)]
                clash = [n for n in given if n in kwargs]
                if clash:
                    raise TypeError(f"{cls} got {clash[0]!r} both positionally and as a keyword.")
                warnings.warn(
                    f"{cls}({', '.join(given)}) as positional arguments is deprecated and will "
                    f"be removed in the next release; use "
                    f"{cls}({', '.join(f'{n}=...' for n in given)}) instead.",
                    FutureWarning, stacklevel=_callers_level())
                kwargs.update(zip(given, args))
            init(self, **kwargs)

        return wrapper

    return decorate


class RenamedParams:
    """Parameters renamed in a scikit-learn style estimator: ``_renamed`` maps each old name
    to the new one. For one release the old name is accepted by ``__init__`` and
    ``set_params`` with a FutureWarning (:func:`warn_renamed`), and state pickled or saved
    under it is read under the new name. ``get_params`` and the signature show only the new
    names. (The neural estimators do the same through their ``**kwargs``.)"""

    _renamed: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None and cls._renamed:
            cls.__init__ = _accepting_old_names(init)

    def set_params(self, **params):
        return super().set_params(**_new_names(self, params))

    def __setstate__(self, state):
        state = under_new_names(self._renamed, state)
        parent = getattr(super(), "__setstate__", None)
        if parent is not None:
            parent(state)
        else:
            self.__dict__.update(state)


def under_new_names(renamed: dict, values: dict) -> dict:
    """``values`` (a pickled state, a saved model's parameters) with each key ``renamed``
    names renamed, unless the new name is there too: what was saved before a rename loads
    under the new name, silently (the saver, not the reader, used the old one)."""
    return {renamed[k] if k in renamed and renamed[k] not in values else k: v
            for k, v in values.items()}


def _new_names(obj, params: dict) -> dict:
    out = {}
    for key, value in params.items():
        new = obj._renamed.get(key)
        if new is not None:
            if new in params:
                raise TypeError(f"{type(obj).__name__} got both {key}= and {new}=; {key} is the "
                                f"old name of {new}: pass {new} only.")
            warn_renamed(type(obj).__name__, key, new)
            key = new
        out[key] = value
    return out


def _accepting_old_names(init):
    @functools.wraps(init)  # the signature stays the new one (inspect follows __wrapped__)
    def wrapper(self, *args, **kwargs):
        init(self, *args, **_new_names(self, kwargs))

    return wrapper
