"""Markdown reports with PNG plots (matplotlib, headless) from run directories, and one
comparison table over several runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hybridnlp.experiments.task import task_named
from hybridnlp.utils.io import atomic_write_bytes

__all__ = ["compare_runs", "main_metric", "main_rows", "replace_section", "run_section",
           "shared_fits", "shown_path", "table_cell", "target_cell", "write_report",
           "write_results_section"]

def _metrics(run_dir) -> dict:
    path = Path(run_dir) / "metrics.json"
    if not path.exists():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a run directory (no metrics.json).")
    return json.loads(path.read_text("utf-8"))


def shown_path(path) -> str:
    """``path`` as a command line in a report shows it: relative to the working directory
    when inside it, else as given."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def main_metric(m: dict) -> str:
    """The main metric of a run's ``metrics.json`` (its task's)."""
    return task_named(m["task"]).main_metric


def target_cell(m: dict, name: str, value: float) -> str:
    target = (m.get("targets") or {}).get(name)
    if target is None:
        return "-"
    lower_is_better = task_named(m["task"]).lower_is_better
    met = value <= target if lower_is_better else value >= target
    gap = abs(value - target)
    return f"{target:g}: met" if met else f"{target:g}: missed by {gap:.4f}"


def metric_table(m: dict, metrics: tuple[str, ...], main: str) -> list[str]:
    """A run's table, a row per model: each metric's mean over the folds (± their spread
    where there are several), the fit time and the target of ``main``."""
    lines = ["| model | " + " | ".join(metrics) + " | fit time (s) | target |",
             "|---" * (len(metrics) + 3) + "|"]
    for name, r in m["models"].items():
        folds = len(r.get("folds") or [])
        cells = [f"{r[k]:.4f}" + (f" ± {r[k + '_std']:.4f}" if folds > 1 else "")
                 for k in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['fit_time']:.1f} | "
                     f"{target_cell(m, name, r[main])} |")
    return lines


def main_rows(m: dict) -> list[dict]:
    """One row per model of a run (and per component of a hybrid, measured inside its fit):
    label, the task's main metric, its spread over folds, fit time, target."""
    key = main_metric(m)
    out, seen = [], set()
    for name, r in m["models"].items():
        for comp, value in (r.get("components") or {}).items():
            if comp != "final" and (comp, value) not in seen:  # shared components: once
                seen.add((comp, value))
                out.append({"label": f"{name}: component {comp}", "value": value,
                            "std": None, "fit_time": None, "target": "-", "component": True})
        folds = len(r.get("folds") or [None, None])
        out.append({"label": name, "value": r[key],
                    "std": r.get(key + "_std") if folds > 1 else None,
                    "fit_time": r["fit_time"], "target": target_cell(m, name, r[key]),
                    "component": False})
    return out


def shared_fits(rows: dict) -> str:
    """A paragraph naming the hybrids that reused another's component fits ("" if none)."""
    reused = {n: r["shared_components"] for n, r in rows.items() if r.get("shared_components")}
    if not reused:
        return ""
    return ("Fits shared between hybrids (`hybridnlp.hybrid.share_fits`): "
            + "; ".join(f"{n} reused {', '.join(c)}" for n, c in reused.items())
            + " from an earlier model's fit (same parameters, texts and held-out split), "
            "so its fit time is the rest of its fit only.")


def table_cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _pretraining(m: dict) -> list[str]:
    """What the run trained on unlabelled text before its models, if anything."""
    lines = []
    for name, p in (m.get("pretrain") or {}).items():
        if name == "word2vec":
            lines.append(f"Unsupervised pretraining: word2vec ({p['method']}, "
                         f"{p['vector_size']} dimensions, {p['epochs']} epochs) on the "
                         f"unlabelled texts of {', '.join(p['corpus'])} ({p['n_texts']:,} "
                         f"texts, {p['vocabulary']:,} words kept), {p['time']:.0f} s, "
                         f"included in the wall time; no labels are used.")
        elif name == "causal_lm":
            loss = "" if p.get("val_loss") is None else f", validation loss {p['val_loss']:.3f}"
            lines.append(f"Unsupervised pretraining: a causal LM ({p['preset']} preset, "
                         f"{p['tokenizer']} tokens, {p['steps']:,} steps{loss}) on the "
                         f"unlabelled texts of {', '.join(p['corpus'])} ({p['n_texts']:,} "
                         f"texts, {p['tokens']:,} tokens), {p['time']:.0f} s, included in the "
                         f"wall time; no labels are used.")
    return lines + [""] if lines else []


def write_report(run_dir) -> Path:
    """Write ``report.md`` (and its PNGs) into ``run_dir`` from its ``metrics.json``, and
    ``report.html``: the same, self-contained (``html_report``)."""
    run_dir = Path(run_dir)
    m = _metrics(run_dir)
    env = m.get("environment", {})
    lines = [f"# {m['name']}", ""]
    if m.get("description"):
        lines += [m["description"].strip(), ""]
    lines += [f"Task: {m['task']}. Seed {m['seed']}. Wall time {m['wall_time']:.1f} s. "
             f"hybridnlp {env.get('hybridnlp')}, torch {env.get('torch')}, scikit-learn "
             f"{env.get('scikit-learn')}; {env.get('cpu')} ({env.get('cpu_cores')} cores), "
             f"GPU: {env.get('gpu') or 'none'}. Finished {m.get('finished')}.", ""]
    lines += _pretraining(m)
    task = task_named(m["task"])
    lines += task.render(m, run_dir)
    path = run_dir / "report.md"
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
    from hybridnlp.experiments.html_report import write_html_report

    write_html_report(run_dir, m["name"], lines,
                      task.html_sections(m) if task.html_sections else ())
    return path


def compare_runs(run_dirs) -> str:
    """One Markdown table comparing the models of several runs side by side; for two runs,
    each shared model's difference with its 95% interval, and what differs in the configs."""
    lines = ["| run | task | model | main metric | value | fit time (s) |",
             "|---|---|---|---|---|---|"]
    for run_dir in run_dirs:
        m = _metrics(run_dir)
        key = main_metric(m)
        for name, r in m["models"].items():
            lines.append(f"| {m['name']} ({Path(run_dir).name}) | {m['task']} | {name} | "
                         f"{key} | {r[key]:.4f} | {r['fit_time']:.1f} |")
    if len(run_dirs) == 2:
        lines += _difference(*run_dirs)
    return "\n".join(lines) + "\n"


def _difference(dir_a, dir_b) -> list[str]:
    """Second run minus first, per model both ran: paired over the same evaluated texts
    when both wrote their predictions of them (classification), else from the two runs'
    spreads over folds; then the config keys whose values differ."""
    a, b = _metrics(dir_a), _metrics(dir_b)
    key = main_metric(a)
    common = [n for n in a["models"] if n in b["models"]]
    if main_metric(b) != key or not common:
        return ["", "The two runs share no model and main metric: no difference to show."]
    (texts_a, right_a), (texts_b, right_b) = _right(dir_a), _right(dir_b)
    paired = key == "accuracy" and texts_a is not None and texts_a == texts_b
    lines = ["", f"Difference, second run minus first ({key}; 95% interval):", "",
             "| model | first | second | difference | 95% interval | from |",
             "|---|---:|---:|---:|---:|---|"]
    for name in common:
        va, vb = a["models"][name][key], b["models"][name][key]
        half, how = None, "one split each, no paired predictions"
        if paired and name in right_a and name in right_b:
            d = right_b[name].astype(float) - right_a[name].astype(float)
            half = 1.96 * d.std(ddof=1) / len(d) ** 0.5 if len(d) > 1 else None
            how = f"paired over the same {len(d)} texts"
        else:
            ka, kb = (len(m["models"][name].get("folds") or []) for m in (a, b))
            if ka > 1 and kb > 1:
                sa, sb = a["models"][name][key + "_std"], b["models"][name][key + "_std"]
                half = 1.96 * (sa ** 2 / ka + sb ** 2 / kb) ** 0.5
                how = f"spreads over {ka} and {kb} folds"
        cell = "-" if half is None else f"± {half:.4f}"
        lines.append(f"| {name} | {va:.4f} | {vb:.4f} | {vb - va:+.4f} | {cell} | {how} |")
    changed = _config_changes(dir_a, dir_b)
    lines += ["", "Config keys that differ: " + ("; ".join(
        f"`{k}`: {va!r} -> {vb!r}" for k, va, vb in changed) if changed else "none") + "."]
    return lines


def _right(run_dir) -> tuple[list | None, dict]:
    """The evaluated texts of ``predictions.csv`` as (index, label) pairs, and model ->
    whether each was predicted right; (None, {}) when there is no such file."""
    import csv

    import numpy as np

    path = Path(run_dir) / "predictions.csv"
    if not path.is_file():
        return None, {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:3] != ["index", "text", "label"]:
        return None, {}
    header, body = rows[0], rows[1:]
    return [(r[0], r[2]) for r in body], {
        name: np.array([r[j] == r[2] for r in body])
        for j, name in enumerate(header[3:], start=3)}


def _config_changes(dir_a, dir_b) -> list[tuple[str, object, object]]:
    """(dotted key, first value, second value) for every setting that differs between the
    two runs' resolved ``config.yaml`` (the output folder and the name aside)."""
    from hybridnlp.experiments.config import read_config_file

    def flat(values, prefix=""):  # nested mappings and lists of them -> dotted keys
        if isinstance(values, list) and any(isinstance(v, dict) for v in values):
            values = dict(enumerate(values))
        if isinstance(values, dict):
            return {k: v for key, sub in values.items()
                    for k, v in flat(sub, f"{prefix}{key}.").items()}
        return {prefix[:-1]: values}

    paths = [Path(d) / "config.yaml" for d in (dir_a, dir_b)]
    if not all(p.is_file() for p in paths):
        return []
    fa, fb = (flat(read_config_file(p)) for p in paths)
    return [(k, fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb))
            if k not in ("output", "name") and fa.get(k) != fb.get(k)]


def run_section(run_dir, results_path, name: str) -> str:
    """The RESULTS.md section of one run: what was run and where, every model (and every
    component of a hybrid) with its main metric and target, and the run's plot, copied
    beside ``results_path`` as ``<name>.png``."""
    import shutil

    run_dir, results_path = Path(run_dir), Path(results_path)
    m = _metrics(run_dir)
    shown = shown_path(results_path)
    env = m.get("environment", {})
    key = main_metric(m)
    command = f"hybridnlp run {m['source']}" if m.get("source") else "hybridnlp run CONFIG"
    lines = [f"## {m['name']}", "",
             f"Command: `{command}`, then `hybridnlp report RUN_DIR --results "
             f"{shown} --section {name}` (run `{run_dir.name}`).  ",
             f"Machine: {env.get('cpu')}, {env.get('cpu_cores')} cores, "
             f"{env.get('gpu') or 'no GPU'}, Python {env.get('python')}, torch "
             f"{env.get('torch')}.  ",
             f"Finished: {m.get('finished')}; wall time {m['wall_time'] / 60:.1f} min"
             + (" (this part of a resumed run)" if m.get("resumed") else "") + ".", ""]
    if m.get("description"):
        lines += [m["description"].strip(), ""]
    lines += [f"Protocol: {m['protocol']}.", ""] + _pretraining(m)
    lines += [f"| model | {key} | ± (folds) | fit time (s) | target |", "|---|---|---|---|---|"]
    for r in main_rows(m):
        std = "-" if r["std"] is None else f"{r['std']:.4f}"
        fit = "-" if r["fit_time"] is None else f"{r['fit_time']:.1f}"
        value = f"{r['value']:.4f}" if r["component"] else f"**{r['value']:.4f}**"
        lines.append(f"| {r['label']} | {value} | {std} | {fit} | {r['target']} |")
    if shared := shared_fits(m["models"]):
        lines += ["", shared]
    for model, folds in (m.get("search") or {}).items():  # a config's search: sections
        pruned = sum(t["state"] == "pruned" for f in folds for t in f["trials"])
        trials = sum(len(f["trials"]) for f in folds)
        lines += ["", f"{model}: Optuna chose per outer fold (the cross-validated score on "
                      f"its training texts) " + "; ".join(
                          ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in f["best_params"].items())
                          + f" ({f['best_score']:.4f})" for f in folds)
                  + f"; {pruned} of {trials} trials pruned."]
    plot = run_dir / "accuracy.png"
    if plot.exists():
        shutil.copyfile(plot, results_path.with_name(f"{name}.png"))
        lines += ["", f"![{m['name']}]({name}.png)"]
    return "\n".join(lines) + "\n"


def write_results_section(run_dirs, results_path, name: str = "runs") -> Path:
    """Put the section of one run (:func:`run_section`), or the comparison table of several,
    between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``results_path``
    (benchmarks/RESULTS.md uses these markers), so results regenerate from run directories;
    other sections are left as they are."""
    results_path = Path(results_path)
    dirs = ", ".join(f"`{Path(d).name}`" for d in run_dirs)
    if len(run_dirs) == 1:
        body = run_section(run_dirs[0], results_path, name)
    else:
        body = (f"## Runs: {name}\n\nRegenerated by `hybridnlp report RUN_DIR ... --results "
                f"{shown_path(results_path)} --section {name}` from {dirs}.\n\n"
                + compare_runs(run_dirs))
    replace_section(results_path, name, body)
    return results_path


def replace_section(path, name: str, body: str, *, header: str = "# Results\n") -> Path:
    """Put ``body`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in the Markdown
    file ``path`` (appended when the markers are not there yet; a new file starts with
    ``header``), leaving the other sections as they are; written atomically. The one writer
    of RESULTS.md sections, for runs and benchmark scripts alike."""
    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text("utf-8") if path.exists() else header
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
