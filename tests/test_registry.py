"""The model registry: specs built into estimators, the config seed reaching them."""

from conftest import _with

from hybridnlp.experiments import build_model, run


def test_nested_model_specs_build_members():
    stack = build_model("stacking", {"estimators": [{"type": "nbsvm", "name": "a"},
                                                    {"type": "tfidf_lr", "name": "b"}]})
    assert [name for name, _ in stack.estimators] == ["a", "b"]


def test_the_config_seed_reaches_every_model_and_makes_runs_repeatable(tmp_path):
    """config.seed reached the folds and global RNGs but never an estimator's random_state."""
    def weights(seed):
        values = _with(output=str(tmp_path / str(seed)), seed=seed,
                       models=[{"type": "transformer", "params": {"max_epochs": 1,
                                                                  "module__n_layer": 1}}])
        values["data"] = {"name": "sst2", "test_split": "test", "limit": 120}
        model = run(values, quiet=True).models["transformer"]
        assert model.random_state == seed
        return model.model_.encoder.tok_emb.weight.detach().clone()

    import torch

    one, again, two = weights(1), weights(1), weights(2)
    assert torch.equal(one, again)
    assert one.shape != two.shape or not torch.equal(one, two)
    spec = {"type": "stacking", "params": {"estimators": [{"type": "fasttext"},
                                                          {"type": "transformer"}]}}
    stack = build_model(spec["type"], spec["params"], seed=7)
    assert stack.random_state == 7
    assert [est.random_state for _, est in stack.estimators] == [7, 7]
    assert build_model("fasttext", {"random_state": 3}, seed=7).random_state == 3
