"""The explanation section of a classification report: for the most and least confident
right and wrong predictions of the last fold (or the test split), which words drove them."""

from __future__ import annotations

import html

import numpy as np

__all__ = ["explained_examples", "html_explanations", "render_explanations"]


def explained_examples(model, texts, y, pred, confidence) -> list[dict] | None:
    """Up to four explained texts (``Explanation.to_dict`` plus ``kind``, ``true`` and
    ``confidence``): the most and least confident right predictions, then wrong ones.
    None for a model that cannot explain (no ``predict_proba``)."""
    if not hasattr(model, "predict_proba") or not len(texts):
        return None
    from hybridnlp.hybrid.explain import explain

    confidence = np.asarray(confidence, dtype=float)
    right = np.asarray(pred, dtype=object) == np.asarray(y, dtype=object)
    picks = []
    for kind, mask in (("right", right), ("wrong", ~right)):
        idx = np.flatnonzero(mask)
        order = idx[np.argsort(-confidence[idx], kind="stable")]
        for which, i in (("most", order[:1]), ("least", order[-1:])):
            if len(i) and int(i[0]) not in [j for _, j in picks]:
                picks.append((f"{which} confident {kind}", int(i[0])))
    chosen = [texts[i] for _, i in picks]
    explanations = explain(model, chosen, labels=[pred[i] for _, i in picks])
    return [{**e.to_dict(), "kind": kind, "true": y[i], "confidence": float(confidence[i])}
            for (kind, i), e in zip(picks, explanations, strict=True)]  # the run's jsonable


def _words(record: dict, k: int = 5) -> tuple[str, str]:
    """The top ``k`` words for and against the label, as text."""
    pairs = sorted(zip(record["scores"], record["tokens"]), reverse=True)
    pro = ", ".join(f"{t} {s:+.2f}" for s, t in pairs[:k] if s > 0) or "-"
    con = ", ".join(f"{t} {s:+.2f}" for s, t in reversed(pairs[-k:]) if s < 0) or "-"
    return pro, con


def render_explanations(m: dict, best: str, shown) -> list[str]:
    """Markdown lines of the best model's explained examples (``shown``: a class index to
    its name)."""
    records = (m.get("explanations") or {}).get(best)
    if not records:
        return []
    lines = [f"## Why: explanations of {best}", "",
             "The words that pushed each prediction toward its label (for) and away from it "
             f"(against), in the model's score toward the label ({records[0]['unit']}): "
             f"{records[0]['method']}"
             + (" (each component's scores combined through the hybrid's weights)"
                if records[0]["method"] == "hybrid" else "") + ".", "",
             "| case | predicted (true) | confidence | text | for | against |",
             "|---|---|---:|---|---|---|"]
    for r in records:
        pro, con = _words(r)
        text = r["text"] if len(r["text"]) <= 160 else r["text"][:157] + "..."
        text = text.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r['kind']} | {shown(r['label'])} ({shown(r['true'])}) | "
                     f"{r['confidence']:.3f} | {text} | {pro} | {con} |")
    return lines + [""]


def html_explanations(m: dict, best: str, shown) -> list[tuple[str, str]]:
    """``report.html``'s highlights of the best model's explained examples: each text with
    its words shaded by score (blue for the label, red against), in the section that
    ``render_explanations`` starts."""
    from hybridnlp.estimators.explain import Explanation

    records = (m.get("explanations") or {}).get(best)
    if not records:
        return []
    rows = []
    for r in records:
        e = Explanation(text=r["text"], label=r["label"], tokens=r["tokens"],
                        spans=[tuple(span) for span in r["spans"]],
                        scores=np.asarray(r["scores"]), score=r["score"], base=r["base"],
                        method=r["method"])
        rows.append(f"<tr><td>{html.escape(r['kind'])}</td>"
                    f"<td>{html.escape(str(shown(r['label'])))} "
                    f"({html.escape(str(shown(r['true'])))})</td>"
                    f"<td>{r['confidence']:.3f}</td><td class=\"explained\">{e.to_html()}</td>"
                    f"</tr>")
    table = ("<p>Highlighted: blue words push toward the predicted label, red words against "
             "it (hover for the score).</p><table><tr><th>case</th><th>predicted (true)</th>"
             "<th>confidence</th><th>text</th></tr>" + "".join(rows) + "</table>")
    return [(f"Why: explanations of {best}", table)]
