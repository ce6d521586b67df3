"""Word segmenters: the ``segmenter=`` hook of every component that splits words.

A segmenter turns a text into its words (``"这部电影很好" -> ["这部", "电影", "很", "好"]``).
Components take either a registered name (``tokenizer="jieba"``) or a callable; a fitted model
that holds a registered name saves and loads (the name is stored, not code), one that holds
an arbitrary callable is refused by ``save_model``, which says how to register it.

``jieba`` is optional (``pip install hybridnlp[zh]``) and imported only when first used.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["CallableSegmenter", "Segmenter", "register_segmenter", "resolve_segmenter",
           "segmenter_names", "unsaveable_segmenter"]

_REGISTRY: dict[str, Callable[[str], list[str]]] = {}


def _jieba(text: str) -> list[str]:
    try:
        import jieba
    except ImportError:
        raise ImportError("the 'jieba' segmenter needs the jieba package: pip install "
                          "hybridnlp[zh] (or pip install jieba).") from None
    jieba.setLogLevel(60)  # no "Building prefix dict" lines on standard error
    return jieba.lcut(text)


def register_segmenter(name: str, function: Callable[[str], list[str]]) -> None:
    """Make ``function`` (text -> list of words) available as ``segmenter=name``. Register it
    in the process that loads a saved model too: the name is what is saved."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"segmenter name {name!r} must be a non-empty str.")
    if not callable(function):
        raise TypeError(f"segmenter {name!r} must be callable (text -> list of words), got "
                        f"{type(function).__name__}.")
    _REGISTRY[name] = function


def segmenter_names() -> list[str]:
    return sorted(_REGISTRY)


class Segmenter:
    """A registered segmenter, by name: called as its function; pickles (and saves) as its
    name only (its state is the name)."""

    def __init__(self, name: str):
        if name not in _REGISTRY:
            raise ValueError(f"segmenter={name!r} is not a registered segmenter; registered: "
                             f"{', '.join(segmenter_names())}. Register one with "
                             f"hybridnlp.text.register_segmenter({name!r}, function).")
        self.name = name

    def __call__(self, text: str) -> list[str]:
        return [w for w in _REGISTRY[self.name](text) if w.strip()]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Segmenter) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Segmenter", self.name))

    def __repr__(self) -> str:
        return f"Segmenter({self.name!r})"


def resolve_segmenter(spec) -> Callable[[str], list[str]] | None:
    """None, a :class:`Segmenter` for a registered name, or the callable itself (whose words
    have blanks dropped)."""
    if spec is None or isinstance(spec, Segmenter):
        return spec
    if isinstance(spec, str):
        return Segmenter(spec)
    if callable(spec):
        return CallableSegmenter(spec)
    raise TypeError(f"segmenter={spec!r} must be None, the name of a registered segmenter "
                    f"({', '.join(segmenter_names())}) or a callable text -> list of words.")


def unsaveable_segmenter(segmenter) -> str:
    """The refusal to save a model holding a callable segmenter, saying how to register it."""
    function = getattr(segmenter, "function", segmenter)
    name = getattr(function, "__name__", type(function).__name__)
    return (f"the model holds the callable {name!r} as its word segmenter (segmenter=), and "
            f"code is never saved with a model. Register it: "
            f"hybridnlp.text.register_segmenter({name!r}, {name}), pass segmenter={name!r}, "
            f"refit and save; register it again before loading.")


class CallableSegmenter:
    """A user's callable, with blank words dropped (pickles with it; ``save_model`` refuses
    it)."""

    def __init__(self, function):
        self.function = function

    def __call__(self, text: str) -> list[str]:
        return [w for w in self.function(text) if w.strip()]

    def unsaveable_reason(self) -> str:
        """Why a model holding it is not saved (``hybridnlp.save`` asks)."""
        return unsaveable_segmenter(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CallableSegmenter) and other.function == self.function

    def __hash__(self) -> int:
        return hash(self.function)


register_segmenter("jieba", _jieba)
