"""Deprecations: old call forms keep working for one release, with a FutureWarning naming the
new form."""

from __future__ import annotations

import functools
import os
import sys
import warnings

__all__ = ["positional_deprecated", "warn_renamed", "warn_renamed_function"]


def warn_renamed(owner: str, old: str, new: str) -> None:
    """The FutureWarning of a parameter given by its old name (accepted for one release),
    pointing at the caller's line."""
    warnings.warn(f"{owner}({old}=...) is deprecated and will be removed in the next "
                  f"release; use {new}=... instead.", FutureWarning, stacklevel=_callers_level())


def warn_renamed_function(old: str, new: str) -> None:
    """The FutureWarning of a function called by its old name, pointing at the caller."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use {new} "
                  f"instead.", FutureWarning, stacklevel=_callers_level())


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
