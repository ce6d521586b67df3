"""The classification part of a run's report: the models' scores with their intervals, the
hybrids' components, confusions, calibration, slices and explanations."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hybridnlp.experiments.explanations import render_explanations
from hybridnlp.experiments.plots import (
    bar_chart,
    binomial_halfwidth,
    confusion_plot,
    curves,
    interval_plot,
    reliability_plot,
    slice_plot,
)
from hybridnlp.experiments.report import main_rows, shared_fits, target_cell
from hybridnlp.experiments.search import render_search
from hybridnlp.experiments.slices import worst_slice
from hybridnlp.experiments.task import task_named

__all__ = ["best_model", "class_name", "render"]

def render(m: dict, run_dir: Path) -> list[str]:
    if m.get("task") == "multilabel":
        return task_named("multilabel").render(m, run_dir)
    rows = m["models"]
    names = list(rows)
    metric_names = [k for k in ("accuracy", "macro_f1", "log_loss", "ece")
                    if k in rows[names[0]]]
    lines = [f"Protocol: {m['protocol']}.", "",
             "| model | " + " | ".join(metric_names) + " | fit time (s) | target |",
             "|---" * (len(metric_names) + 3) + "|"]
    for name in names:
        r = rows[name]
        spread = len(r.get("folds") or []) > 1  # no "± 0.0000" on one test split
        cells = [f"{r[k]:.4f} ± {r.get(k + '_std', 0):.4f}" if spread else f"{r[k]:.4f}"
                 for k in metric_names]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['fit_time']:.1f} | "
                     f"{target_cell(m, name, r['accuracy'])} |")
    lines.append("")
    for name in names:
        comps = rows[name].get("components")
        if comps:
            lines += [f"Components of {name}, each measured inside the same fits (mean over "
                      f"folds): " + ", ".join(f"{c} {v:.4f}" for c, v in comps.items()), ""]
    if shared := shared_fits(rows):
        lines += [shared, ""]
    bars = main_rows(m)
    folds = max(len(rows[n].get("folds") or [None]) for n in names)
    if folds > 1:
        errors, error_label = [b["std"] or 0 for b in bars], f"error bars: std over {folds} folds"
    else:  # one test split: a binomial interval on its size (any model's confusion total)
        matrices = [c["matrix"] for c in m.get("confusion", {}).values()]
        n_test = int(np.sum(matrices[0])) if matrices else 0
        errors, error_label = None, ""
        if n_test:
            errors = [binomial_halfwidth(b["value"], n_test) for b in bars]
            error_label = f"error bars: 95% binomial interval on {n_test} test texts"
    # models best first, then the hybrids' components (grouped apart), best first
    order = sorted(range(len(bars)), key=lambda i: (bars[i]["component"], -bars[i]["value"]))
    given = m.get("targets") or {}
    targets = {row: given[bars[i]["label"]] for row, i in enumerate(order)
               if not bars[i]["component"] and bars[i]["label"] in given}
    title = f"{m.get('name', 'run')}: accuracy per model ({m['protocol'].split(';')[0]})"
    interval_plot([bars[i]["label"].replace(": component ", ": ") for i in order],
                  [bars[i]["value"] for i in order],
                  None if errors is None else [errors[i] for i in order],
                  ["component" if bars[i]["component"] else "best" if row == 0 else "model"
                   for row, i in enumerate(order)], run_dir / "accuracy.png", title=title,
                  xlabel=f"accuracy ({error_label})" if error_label else "accuracy",
                  targets=targets)
    lines += ["![accuracy per model](accuracy.png)", ""]
    best = best_model(m)
    if m.get("confusion", {}).get(best):
        confusion_plot(best, m["confusion"][best], run_dir / "confusion.png",
                   m.get("target_names"), title=f"{m.get('name', 'run')}: ")
        lines += [f"Confusion matrix of the best model ({best}), all evaluated examples:", "",
                  "![confusion matrix](confusion.png)", ""]
    lines += _render_slices(m, best, run_dir)
    if m.get("reliability"):
        reliability_plot(m["reliability"], run_dir / "reliability.png",
                         title=f"{m.get('name', 'run')}: reliability (all evaluated texts)")
        lines += ["Reliability: accuracy against confidence in 15 equal-width bins (the "
                  "diagonal is perfect calibration); expected calibration error " + ", ".join(
                      f"{n} {r['ece']:.4f}" for n, r in m["reliability"].items()) + ".", "",
                  "![reliability diagram](reliability.png)", ""]
    histories = {n: rows[n]["history"] for n in names if rows[n].get("history")}
    if histories and curves(histories, ("train_loss", "val_loss"), "epoch",
                             run_dir / "learning_curves.png", "loss",
                             title=f"{m.get('name', 'run')}: learning curves (last fold)"):
        lines += ["Learning curves (last fold):", "", "![learning curves](learning_curves.png)",
                  ""]
    lines += render_search(m)
    lines += render_explanations(m, best, class_name(m))
    att = m.get("attribution")
    if att:
        s = att["summary"]
        lines += [f"## Which component wins where ({att['model']})", "",
                  "| component | accuracy | right when all others are wrong |", "|---|---|---|"]
        only = s.get("only_right", {})
        for comp, acc in s.get("accuracy", {}).items():
            share = f"{only[comp]:.4f}" if comp in only else "-"
            lines.append(f"| {comp} | {acc:.4f} | {share} |")
        oracle = s.get("oracle")
        lines += ["", f"Oracle (any component right): "
                      f"{oracle:.4f}" if oracle is not None else "Oracle: -", ""]
        if only:
            comps = list(only)
            bar_chart(comps, [only[c] for c in comps], None, "share of test texts",
                 run_dir / "attribution.png",
                 title=f"{m.get('name', 'run')}: texts only this component of "
                       f"{att['model']} gets right")
            lines += ["![component attribution](attribution.png)", ""]
    return lines


def best_model(m: dict) -> str:
    """The model of the highest accuracy (the first of equals)."""
    return max(m["models"], key=lambda n: m["models"][n]["accuracy"])


def class_name(m: dict):
    """A function from a label as stored (a class index of a named data set) to its name."""
    names = m.get("target_names") or []

    def shown(label):
        if isinstance(label, int) and 0 <= label < len(names):
            return names[label]
        return label
    return shown


def _render_slices(m: dict, best: str, run_dir: Path) -> list[str]:
    """Accuracy by slice for the best model (a table and a plot) and each model's worst
    slice: where the models fail."""
    if not (m.get("slices") or {}).get(best):
        return []
    by_name = class_name(m)

    def shown(dim: str, name: str) -> str:  # a class index by its name
        return str(by_name(int(name))) if dim == "class" and name.isdigit() else name

    slices = {dim: {shown(dim, name): rec for name, rec in named.items()}
              for dim, named in m["slices"][best].items()}
    overall = m["models"][best]["accuracy"]
    worst = worst_slice(slices)
    slice_plot(slices, overall, worst, run_dir / "slices.png",
               title=f"{m.get('name', 'run')}: accuracy of {best} by slice")
    lines = [f"## Where the models fail: accuracy by slice ({best})", "",
             "Length: quartiles of the evaluated texts' word counts; unseen words: the share "
             "of a text's words absent from the training texts it was evaluated against.", "",
             "| dimension | slice | texts | accuracy |", "|---|---|---:|---:|"]
    for dim, named in slices.items():
        for name, rec in named.items():
            mark = " (worst)" if worst and (dim, name) == worst[:2] else ""
            lines.append(f"| {dim} | {name}{mark} | {rec['n']} | {rec['accuracy']:.4f} |")
    lines += ["", "![accuracy by slice](slices.png)", ""]
    for model, model_slices in m["slices"].items():
        found = worst_slice(model_slices)
        if found:
            dim, name, rec = found
            lines.append(f"- {model}: worst on {dim} \"{shown(dim, name)}\", "
                         f"{rec['accuracy']:.4f} on {rec['n']} texts (all: "
                         f"{m['models'][model]['accuracy']:.4f}).")
    return [*lines, ""]
