"""The plots of run reports (matplotlib, headless, 640 x 400 pixels each): bars from zero
with targets and error bars, curves, confusion matrices."""

from __future__ import annotations

import textwrap
from pathlib import Path

from hybridnlp.utils.io import atomic_path

__all__ = ["FIGSIZE", "bar_chart", "binomial_halfwidth", "confusion_plot", "curves",
           "scatter_plot"]

FIGSIZE, DPI = (6.4, 4.0), 100  # every plot is 640 x 400 pixels


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI)
    _plt().close(fig)


def bar_chart(names, values, errors, ylabel, path, *, title: str, error_label: str = "",
         targets: dict | None = None) -> None:
    """Bars from zero, the best in red, each value written on it; ``errors`` (None: none
    drawn) are the spread ``error_label`` explains; ``targets`` (bar index -> value) are
    drawn as dashed lines over their bars."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    best = max(range(len(values)), key=values.__getitem__)
    colors = ["#c44e52" if i == best else "#4c72b0" for i in range(len(values))]
    ax.bar(range(len(values)), values, yerr=errors, color=colors, capsize=4 if errors else 0)
    ax.set_xticks(range(len(values)), names, rotation=20, ha="right")
    ax.set_ylim(0.0, (max([*values, *(targets or {}).values()]) or 1.0) * 1.12)
    ax.set_ylabel(ylabel)
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    for i, (index, target) in enumerate(sorted((targets or {}).items())):
        ax.hlines(target, index - 0.45, index + 0.45, colors="black", linestyles="dashed",
                  label="target" if i == 0 else None)
    if targets:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title + (f"\n{error_label}" if error_label else ""), fontsize=9)
    fig.tight_layout()
    _save(fig, path)


# marker, colour and legend entry of each kind of row in an interval plot
_KINDS = {"model": ("o", "#4c72b0", "model"), "best": ("o", "#c44e52", "best model"),
          "component": ("s", "#8c8c8c", "component, measured inside its hybrid"),
          "slice": ("o", "#4c72b0", "slice"), "worst": ("o", "#c44e52", "worst slice")}


def interval_plot(labels, values, errors, kinds, path, *, title: str, xlabel: str,
                  reference: tuple[float, str] | None = None,
                  targets: dict | None = None) -> None:
    """One row per label, top to bottom: a point with its interval (``errors``: half-widths,
    None for none), marked by its kind (``_KINDS``: a model, the best one, a hybrid's
    component, a slice, the worst slice), every kind in the legend; the axis zoomed to the
    intervals (a 1-point difference stays visible); ``reference`` (value, label) a dashed
    line, ``targets`` (row -> value) black crosses."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], max(FIGSIZE[1], 0.32 * len(labels) + 1.4)))
    errors = errors if errors is not None else [0.0] * len(values)
    shown = set()
    for i, (value, half, kind) in enumerate(zip(values, errors, kinds, strict=True)):
        marker, color, legend = _KINDS[kind]
        ax.errorbar(value, i, xerr=half or None, fmt=marker, capsize=3, color=color,
                    label=None if kind in shown else legend)
        ax.annotate(f"{value:.3f}", (value, i), textcoords="offset points", xytext=(0, 6),
                    ha="center", fontsize=7)
        shown.add(kind)
    spots = [v for v, h in zip(values, errors, strict=True) for v in (v - (h or 0), v + (h or 0))]
    if reference is not None:
        ax.axvline(reference[0], color="black", linestyle="dashed", label=reference[1])
        spots.append(reference[0])
    for j, (row, target) in enumerate(sorted((targets or {}).items())):
        ax.plot(target, row, "x", color="black", label="target" if j == 0 else None)
        spots.append(target)
    low, high = min(spots), max(spots)
    pad = 0.08 * (high - low or 0.1)
    ax.set_xlim(max(0.0, low - pad), high + pad if high > 1 else min(1.0, high + pad))
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.5, -0.7)  # first row on top, room for its value
    ax.set_xlabel("\n".join(textwrap.wrap(xlabel, 64)), fontsize=8)  # beside long labels
    ax.legend(fontsize=7, loc="best")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def slice_plot(slices: dict, overall: float, worst: tuple | None, path: Path, *,
               title: str) -> None:
    """Accuracy by slice (``hybridnlp.experiments.slices.accuracy_by_slice``) as points with 95%
    binomial intervals, grouped by dimension, the overall accuracy a dashed line and the
    worst slice in red."""
    rows = [(dim, name, rec) for dim, named in slices.items() for name, rec in named.items()]
    interval_plot([f"{dim}: {name} ({rec['n']})" for dim, name, rec in rows],
                  [rec["accuracy"] for *_, rec in rows],
                  [binomial_halfwidth(rec["accuracy"], rec["n"]) for *_, rec in rows],
                  ["worst" if worst is not None and (dim, name) == tuple(worst[:2]) else "slice"
                   for dim, name, _ in rows], path, title=title,
                  xlabel="accuracy (95% binomial interval)",
                  reference=(overall, f"all texts ({overall:.3f})"))


def reliability_plot(reliability: dict, path: Path, *, title: str) -> None:
    """Accuracy against mean confidence per bin (``reliability_bins``), one line per model
    with its ECE in the legend, point size by the bin's share of texts; the diagonal is
    perfect calibration."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="perfect calibration")
    low = 1.0
    for name, rel in reliability.items():
        bins = rel["bins"]
        total = sum(b["n"] for b in bins)
        xs, ys = [b["confidence"] for b in bins], [b["accuracy"] for b in bins]
        line, = ax.plot(xs, ys, linewidth=1, label=f"{name} (ECE {rel['ece']:.3f})")
        ax.scatter(xs, ys, s=[8 + 200 * b["n"] / total for b in bins], color=line.get_color())
        low = min(low, *xs, *ys)
    low = max(0.0, min(low, 0.5) - 0.05)
    ax.set_xlim(low, 1.0)
    ax.set_ylim(low, 1.0)
    ax.set_xlabel("confidence (the predicted class's probability)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def binomial_halfwidth(p: float, n: int) -> float:
    """Half the 95% normal-approximation interval of an accuracy ``p`` on ``n`` texts."""
    return 1.96 * (p * (1 - p) / n) ** 0.5 if n else 0.0


def curves(histories: dict, keys: tuple[str, ...], xkey: str, path: Path, ylabel: str, *,
           title: str = "") -> bool:
    """``keys`` of each history against ``xkey`` (whole numbers on the axis for epochs and
    steps), one line per model and key; False (and an empty plot) when nothing was logged."""
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    drawn = False
    for name, history in histories.items():
        for key in keys:
            xs = [row[xkey] for row in history if key in row and row[key] is not None]
            ys = [row[key] for row in history if key in row and row[key] is not None]
            if ys:
                ax.plot(xs, ys, marker="o", markersize=3, label=f"{name} {key}")
                drawn = True
    ax.set_xlabel(xkey)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    if drawn:
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    return drawn


def confusion_plot(name: str, conf: dict, path: Path, class_names: list | None = None,
               title: str = "") -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    mat, labels = conf["matrix"], conf["labels"]
    if class_names and all(str(lab).isdigit() and int(lab) < len(class_names)
                           for lab in labels):
        labels = [class_names[int(lab)] for lab in labels]  # names, not ids
    ax.imshow(mat, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    top = max(max(row) for row in mat) or 1
    for i, row in enumerate(mat):
        for j, v in enumerate(row):  # white on the dark cells, black on the light ones
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                    color="white" if v > top / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}confusion matrix of {name}", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def scatter_plot(truth, pred, names: list[str], path: Path, *, title: str) -> None:
    """Predicted against true, one panel per target (at most 4), the diagonal dashed and
    each panel's Pearson r in its title; axes span the data."""
    import numpy as np

    plt = _plt()
    truth, pred = truth.reshape(len(truth), -1), pred.reshape(len(pred), -1)
    k = min(truth.shape[1], 4)
    fig, axes = plt.subplots(1, k, figsize=FIGSIZE, squeeze=False)
    for j, ax in enumerate(axes[0]):
        t, p = truth[:, j], pred[:, j]
        ax.scatter(t, p, s=6, alpha=0.4, color="#4c72b0")
        lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        ax.plot([lo, hi], [lo, hi], "k--", linewidth=0.8, label="predicted = true")
        r = float(np.corrcoef(t, p)[0, 1]) if t.std() and p.std() else float("nan")
        ax.set_title(f"{names[j]}: r = {r:.3f}", fontsize=9)
        ax.set_xlabel("true", fontsize=8)
        if j == 0:
            ax.set_ylabel("predicted", fontsize=8)
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _save(fig, path)

