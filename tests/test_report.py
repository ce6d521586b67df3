"""Reports a person reads at a glance: titled plots zoomed to the data, the right error
bars, targets, class names, and the component attribution as a plot."""

import pytest

from hybridnlp.experiments import _classification_report as report_module
from hybridnlp.experiments import run


@pytest.fixture
def bars(monkeypatch):
    calls = {}
    real = report_module.bar_chart

    def record(names, values, errors, ylabel, path, **kw):
        calls[path.name] = {"names": names, "values": values, "errors": errors, **kw}
        return real(names, values, errors, ylabel, path, **kw)

    monkeypatch.setattr(report_module, "bar_chart", record)
    real_interval = report_module.interval_plot

    def record_interval(labels, values, errors, kinds, path, **kw):
        calls[path.name] = {"names": labels, "values": values, "errors": errors,
                            "kinds": kinds, **kw}
        return real_interval(labels, values, errors, kinds, path, **kw)

    monkeypatch.setattr(report_module, "interval_plot", record_interval)
    confusions = {}
    real_confusion = report_module.confusion_plot

    def record_confusion(name, conf, path, class_names=None, title=""):
        confusions["labels"] = class_names
        return real_confusion(name, conf, path, class_names, title)

    monkeypatch.setattr(report_module, "confusion_plot", record_confusion)
    calls["confusion"] = confusions
    return calls


def test_a_test_split_gets_binomial_intervals_targets_names_and_attribution(tmp_path, bars):
    values = {"name": "sst2-small", "task": "classification", "output": str(tmp_path),
              "data": {"name": "sst2", "test_split": "test", "limit": 300},
              "models": [{"type": "nbsvm", "name": "NBSVM"},
                         {"type": "stacking", "name": "stack"}],
              "evaluation": {"targets": {"NBSVM": 0.9}}}
    result = run(values, quiet=True)
    acc = bars["accuracy.png"]
    assert acc["title"].startswith("sst2-small: accuracy per model (")
    assert acc["xlabel"] == "accuracy (error bars: 95% binomial interval on 300 test texts)"
    # models best first, then the stack's components apart, best first; the best in red
    models = [k for k in acc["kinds"] if k != "component"]
    assert acc["kinds"] == [*models, "component", "component"] and models[0] == "best"
    assert acc["values"][:2] == sorted(acc["values"][:2], reverse=True)
    assert acc["values"][2:] == sorted(acc["values"][2:], reverse=True)
    assert sorted(acc["names"][2:]) == ["stack: nbsvm", "stack: tfidf_lr"]
    p = acc["values"][acc["names"].index("NBSVM")]
    assert acc["errors"][acc["names"].index("NBSVM")] == pytest.approx(
        1.96 * (p * (1 - p) / 300) ** 0.5)
    assert acc["targets"] == {acc["names"].index("NBSVM"): 0.9}
    assert bars["confusion"]["labels"] == ["negative", "positive"]
    att = bars["attribution.png"]
    assert att["names"] == ["nbsvm", "tfidf_lr"] and att["errors"] is None
    report = (result.run_dir / "report.md").read_text()
    assert "![component attribution](attribution.png)" in report
    assert "±" not in report.split("## ")[0]  # one test split: no spread to show
    assert (result.run_dir / "attribution.png").is_file()


def test_cross_validation_gets_fold_spreads(tmp_path, bars):
    values = {"name": "mr-small", "task": "classification", "output": str(tmp_path),
              "data": {"name": "mr", "limit": 200}, "models": [{"type": "nbsvm"}],
              "evaluation": {"cv": 3}}
    result = run(values, quiet=True)
    acc = bars["accuracy.png"]
    assert acc["xlabel"] == "accuracy (error bars: std over 3 folds)"
    assert acc["errors"] == [pytest.approx(result.metrics["models"]["nbsvm"]["accuracy_std"])]
