"""Markdown reports with PNG plots (matplotlib, headless) from run directories, and one
comparison table over several runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hybridnlp.utils.io import atomic_path, atomic_write_bytes

__all__ = ["FIGSIZE", "MAIN_METRIC", "compare_runs", "main_rows", "run_section", "shown_path",
           "write_report", "write_results_section"]

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


def _metrics(run_dir) -> dict:
    path = Path(run_dir) / "metrics.json"
    if not path.exists():
        raise FileNotFoundError(f"{str(run_dir)!r} is not a run directory (no metrics.json).")
    return json.loads(path.read_text("utf-8"))


def _bar(names, values, errors, ylabel, path, *, title: str, error_label: str = "",
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


def _binomial_halfwidth(p: float, n: int) -> float:
    """Half the 95% normal-approximation interval of an accuracy ``p`` on ``n`` texts."""
    return 1.96 * (p * (1 - p) / n) ** 0.5 if n else 0.0


def _curves(histories: dict, keys: tuple[str, ...], xkey: str, path: Path, ylabel: str) -> bool:
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
    ax.set_ylabel(ylabel)
    if drawn:
        ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    return drawn


def _confusion(name: str, conf: dict, path: Path, class_names: list | None = None,
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
    for i, row in enumerate(mat):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}confusion matrix of {name}", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def shown_path(path) -> str:
    """``path`` as a command line in a report shows it: relative to the working directory
    when inside it, else as given."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


MAIN_METRIC = {"classification": "accuracy", "language_modeling": "perplexity",
               "topic_modeling": "coherence", "translation": "bleu",
               "question_answering": "f1"}


def _target_cell(m: dict, name: str, value: float) -> str:
    target = (m.get("targets") or {}).get(name)
    if target is None:
        return "-"
    lower_is_better = m["task"] == "language_modeling"
    met = value <= target if lower_is_better else value >= target
    gap = abs(value - target)
    return f"{target:g}: met" if met else f"{target:g}: missed by {gap:.4f}"


def main_rows(m: dict) -> list[dict]:
    """One row per model of a run (and per component of a hybrid, measured inside its fit):
    label, the task's main metric, its spread over folds, fit time, target."""
    key = MAIN_METRIC[m["task"]]
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
                    "fit_time": r["fit_time"], "target": _target_cell(m, name, r[key]),
                    "component": False})
    return out


def _shared_fits(rows: dict) -> str:
    """A paragraph naming the hybrids that reused another's component fits ("" if none)."""
    reused = {n: r["shared_components"] for n, r in rows.items() if r.get("shared_components")}
    if not reused:
        return ""
    return ("Fits shared between hybrids (`hybridnlp.hybrid.share_fits`): "
            + "; ".join(f"{n} reused {', '.join(c)}" for n, c in reused.items())
            + " from an earlier model's fit (same parameters, texts and held-out split), "
            "so its fit time is the rest of its fit only.")


def _classification(m: dict, run_dir: Path) -> list[str]:
    rows = m["models"]
    names = list(rows)
    metric_names = [k for k in ("accuracy", "macro_f1", "log_loss") if k in rows[names[0]]]
    lines = [f"Protocol: {m['protocol']}.", "",
             "| model | " + " | ".join(metric_names) + " | fit time (s) | target |",
             "|---" * (len(metric_names) + 3) + "|"]
    for name in names:
        r = rows[name]
        cells = [f"{r[k]:.4f} ± {r.get(k + '_std', 0):.4f}" for k in metric_names]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['fit_time']:.1f} | "
                     f"{_target_cell(m, name, r['accuracy'])} |")
    lines.append("")
    for name in names:
        comps = rows[name].get("components")
        if comps:
            lines += [f"Components of {name}, each measured inside the same fits (mean over "
                      f"folds): " + ", ".join(f"{c} {v:.4f}" for c, v in comps.items()), ""]
    if shared := _shared_fits(rows):
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
            errors = [_binomial_halfwidth(b["value"], n_test) for b in bars]
            error_label = f"error bars: 95% binomial interval on {n_test} test texts"
    given = m.get("targets") or {}
    targets = {i: given[b["label"]] for i, b in enumerate(bars)
               if not b["component"] and b["label"] in given}
    title = f"{m.get('name', 'run')}: accuracy per model ({m['protocol'].split(';')[0]})"
    _bar([b["label"].replace(": component ", ": ") for b in bars], [b["value"] for b in bars],
         errors, "accuracy", run_dir / "accuracy.png", title=title, error_label=error_label,
         targets=targets)
    lines += ["![accuracy per model](accuracy.png)", ""]
    best = max(names, key=lambda n: rows[n]["accuracy"])
    if m.get("confusion", {}).get(best):
        _confusion(best, m["confusion"][best], run_dir / "confusion.png",
                   m.get("target_names"), title=f"{m.get('name', 'run')}: ")
        lines += [f"Confusion matrix of the best model ({best}), all evaluated examples:", "",
                  "![confusion matrix](confusion.png)", ""]
    histories = {n: rows[n]["history"] for n in names if rows[n].get("history")}
    if histories and _curves(histories, ("train_loss", "val_loss"), "epoch",
                             run_dir / "learning_curves.png", "loss"):
        lines += ["Learning curves (last fold):", "", "![learning curves](learning_curves.png)",
                  ""]
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
            _bar(comps, [only[c] for c in comps], None, "share of test texts",
                 run_dir / "attribution.png",
                 title=f"{m.get('name', 'run')}: texts only this component of "
                       f"{att['model']} gets right")
            lines += ["![component attribution](attribution.png)", ""]
    return lines


def _language_modeling(m: dict, run_dir: Path) -> list[str]:
    rows = m["models"]
    lines = [f"Protocol: {m['protocol']}.", "",
             "| model | loss (nats/token) | perplexity | per | fit time (s) |",
             "|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['loss']:.4f} | {r['perplexity']:.3f} | {r['per']} | "
                     f"{r['fit_time']:.1f} |")
    lines.append("")
    histories = {n: r["history"] for n, r in rows.items() if r.get("history")}
    if histories and _curves(histories, ("train_loss", "val_loss"), "step",
                             run_dir / "loss_curves.png", "loss (nats/token)"):
        lines += ["![loss curves](loss_curves.png)", ""]
    for name, r in rows.items():
        for i, sample in enumerate(r.get("samples", [])):
            lines += [f"Sample {i + 1} from {name}:", "", "```text", sample, "```", ""]
    return lines


def _cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _translation(m: dict, run_dir: Path) -> list[str]:
    rows = m["models"]
    lines = [f"Protocol: {m['protocol']}.", "",
             "| model | BLEU test | chrF test | BLEU dev | beams | fit time (s) | "
             "test decoding (sentences/s) | target |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        fused = f", LM weight {r['lm_weight']:g}" if "lm_weight" in r else ""
        lines.append(f"| {name} | {r['bleu']:.2f} | {r['chrf']:.2f} | {r['bleu_dev']:.2f} | "
                     f"{r['num_beams']} (alpha {r['length_penalty']:g}{fused}) | "
                     f"{r['fit_time']:.1f} | {r['sentences_per_s']:.1f} | "
                     f"{_target_cell(m, name, r['bleu'])} |")
    sig = m.get("signature") or {}
    lines += ["", f"sacreBLEU signatures: BLEU `{sig.get('bleu')}`, chrF `{sig.get('chrf')}`.",
              ""]
    histories = {n: r["history"] for n, r in rows.items() if r.get("history")}
    if histories and _curves(histories, ("train_loss", "val_loss"), "epoch",
                             run_dir / "loss_curves.png", "loss (nats/token)"):
        lines += ["![loss curves](loss_curves.png)", ""]
    for name, r in rows.items():
        lines += [f"Test samples from {name}:", "", "| source | reference | hypothesis |",
                  "|---|---|---|"]
        lines += [f"| {_cell(s['source'])} | {_cell(s['reference'])} | "
                  f"{_cell(s['hypothesis'])} |" for s in r.get("samples", [])]
        lines.append("")
    return lines


def _question_answering(m: dict, run_dir: Path) -> list[str]:
    rows = m["models"]
    lines = [f"Protocol: {m['protocol']}.", "",
             "| model | F1 open | EM open | F1 gold passage | EM gold passage | recall@1 | "
             "recall@5 | recall@20 | fit time (s) | target |", "|---" * 10 + "|"]
    for name, r in rows.items():
        rec = {int(k): v for k, v in r["recall"].items()}
        lines.append(f"| {name} | {r['f1']:.2f} | {r['exact_match']:.2f} | "
                     f"{r['f1_gold']:.2f} | {r['exact_match_gold']:.2f} | {rec[1]:.2f} | "
                     f"{rec[5]:.2f} | {rec[20]:.2f} | {r['fit_time']:.1f} | "
                     f"{_target_cell(m, name, r['f1'])} |")
    lines.append("")
    for name, r in rows.items():
        lines += [f"EM / F1 by question type (gold passage), {name}:", "",
                  "| type | questions | EM | F1 |", "|---|---|---|---|"]
        lines += [f"| {t} | {v['n']} | {v['exact_match']:.1f} | {v['f1']:.1f} |"
                  for t, v in r["by_type"].items()]
        lines += ["", f"Examples from {name} (open mode):", "",
                  "| | question | answer | references |", "|---|---|---|---|"]
        lines += [f"| {'right' if e['right'] else 'wrong'} | {_cell(e['question'])} | "
                  f"{_cell(e['answer'])} | {_cell(' / '.join(e['references']))} |"
                  for e in r["examples"]]
        lines.append("")
    return lines


def _topic_modeling(m: dict, run_dir: Path) -> list[str]:
    lines = [f"Protocol: {m['protocol']}.", "", "| model | coherence (c_v) | fit time (s) |",
             "|---|---|---|"]
    for name, r in m["models"].items():
        lines.append(f"| {name} | {r['coherence']:.4f} | {r['fit_time']:.1f} |")
    lines.append("")
    for name, r in m["models"].items():
        lines += [f"Top words of {name}:", ""]
        lines += [f"{i}. {' '.join(words)}" for i, words in enumerate(r["top_words"])]
        lines.append("")
    return lines


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
    """Write ``report.md`` (and its PNGs) into ``run_dir`` from its ``metrics.json``."""
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
    lines += {"classification": _classification, "language_modeling": _language_modeling,
              "topic_modeling": _topic_modeling, "translation": _translation,
              "question_answering": _question_answering}[m["task"]](
        m, run_dir)
    path = run_dir / "report.md"
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def compare_runs(run_dirs) -> str:
    """One Markdown table comparing the models of several runs side by side."""
    lines = ["| run | task | model | main metric | value | fit time (s) |",
             "|---|---|---|---|---|---|"]
    for run_dir in run_dirs:
        m = _metrics(run_dir)
        key = MAIN_METRIC[m["task"]]
        for name, r in m["models"].items():
            lines.append(f"| {m['name']} ({Path(run_dir).name}) | {m['task']} | {name} | "
                         f"{key} | {r[key]:.4f} | {r['fit_time']:.1f} |")
    return "\n".join(lines) + "\n"


def run_section(run_dir, results_path, name: str) -> str:
    """The RESULTS.md section of one run: what was run and where, every model (and every
    component of a hybrid) with its main metric and target, and the run's plot, copied
    beside ``results_path`` as ``<name>.png``."""
    import shutil

    run_dir, results_path = Path(run_dir), Path(results_path)
    m = _metrics(run_dir)
    shown = shown_path(results_path)
    env = m.get("environment", {})
    key = MAIN_METRIC[m["task"]]
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
    if shared := _shared_fits(m["models"]):
        lines += ["", shared]
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
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    dirs = ", ".join(f"`{Path(d).name}`" for d in run_dirs)
    if len(run_dirs) == 1:
        body = run_section(run_dirs[0], results_path, name)
    else:
        body = (f"## Runs: {name}\n\nRegenerated by `hybridnlp report RUN_DIR ... --results "
                f"{shown_path(results_path)} --section {name}` from {dirs}.\n\n"
                + compare_runs(run_dirs))
    text = results_path.read_text("utf-8") if results_path.exists() else "# Results\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    atomic_write_bytes(results_path, text.encode("utf-8"))
    return results_path
