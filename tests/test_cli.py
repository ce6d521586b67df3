"""The CLI on bad input: exit status 2 and one line naming the problem, never a traceback;
and the options it offers."""

import subprocess
import sys

import pytest
from conftest import cli_error

from hybridnlp import load_dataset
from hybridnlp.cli import main
from hybridnlp.experiments import (
    build_model,
)
from hybridnlp.lm import CausalLM, NGramLM
from hybridnlp.persistence import save


@pytest.fixture(scope="module")
def folders(tmp_path_factory, mr_small):

    root = tmp_path_factory.mktemp("cli")
    texts, y = mr_small
    save(build_model("nbsvm", {}).fit(texts, y), root / "clf")
    corpus = "to be or not to be, that is the question. " * 40
    save(CausalLM(preset="gpt-nano", max_steps=30, random_state=0).fit(corpus), root / "lm")
    save(NGramLM(order=3, tokenizer="char").fit(corpus), root / "ngram")
    (root / "empty").mkdir()
    (root / "texts.csv").write_text("review\na fine film\n")
    (root / "broken.csv").write_bytes(b"text\n\"an unclosed quote\n\xff\xfe\n")
    return root


def test_predict_refuses_bad_input_in_one_line(folders, capsys):
    r = folders
    cases = [
        (["predict", str(r / "clf"), "--input", str(r / "texts.csv")], "text_column='text'"),
        (["predict", str(r / "clf"), "--input", str(r / "broken.csv")], "broken.csv"),
        (["predict", str(r / "clf"), "--input", str(r / "none.csv")], "none.csv"),
        (["predict", str(r / "empty"), "--input", str(r / "texts.csv")], "holds no model"),
        (["predict", str(r / "missing"), "--input", str(r / "texts.csv")],
         "model directory '" + str(r / "missing") + "' does not exist"),
        (["predict", str(r / "ngram"), "--input", str(r / "texts.csv")],
         "is a NGramLM, not a classifier; continue text with: hybridnlp generate"),
    ]
    for argv, message in cases:
        assert message in cli_error(argv, capsys), argv


def test_train_lm_and_generate_refuse_bad_input(folders, capsys, tmp_path):
    assert "corpus file 'missing.txt' does not exist" in cli_error(
        ["train-lm", "missing.txt", "--output", str(tmp_path / "x")], capsys)
    assert "is not a language model" in cli_error(["generate", str(folders / "clf")], capsys)
    assert "top_p" in cli_error(["generate", str(folders / "lm"), "--top-p", "2"], capsys)


def test_generate_offers_beams_repetition_penalty_stop_and_stream(folders, capsys):
    lm = str(folders / "lm")
    assert main(["generate", lm, "--prompt", "to be", "--max-new-tokens", "30",
                 "--num-beams", "3", "--stop", ","]) == 0
    beams = capsys.readouterr().out
    assert beams.startswith("to be") and "," not in beams[len("to be"):]
    assert main(["generate", lm, "--prompt", "to be", "--max-new-tokens", "20", "--seed", "0",
                 "--stream", "--repetition-penalty", "1.3"]) == 0
    streamed = capsys.readouterr().out
    assert main(["generate", lm, "--prompt", "to be", "--max-new-tokens", "20", "--seed", "0",
                 "--repetition-penalty", "1.3"]) == 0
    assert streamed == capsys.readouterr().out  # streaming prints the same text


def test_version_and_help_show_defaults(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == "hybridnlp 0.1.0\n"
    with pytest.raises(SystemExit):
        main(["train-lm", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "GPT preset (gpt-nano ... gpt2-xl) (default: quick)" in help_text
    assert "random seed (default: 0)" in help_text


def test_help_and_datasets_do_not_import_torch_or_sklearn():
    import subprocess
    import sys

    code = ("import sys; from hybridnlp.cli import main\n"
            "try:\n    main(['datasets'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'gensim') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["report", "--help"],
                                  ["predict", "--help"], ["train-lm", "--help"],
                                  ["generate", "--help"], ["datasets", "--help"]])
def test_every_command_has_help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert "usage: hybridnlp" in capsys.readouterr().out


def test_bad_arguments_exit_2_with_one_line(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'frobnicate'" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntask: classification\ndata: {name: mr}\nmodels: [{type: nbsmv}]\n")
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(bad)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == ("hybridnlp run: error: models[0].type: unknown model 'nbsmv'. Did you mean "
                   "'nbsvm'? Registered: " + err.split("Registered: ")[1])
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(tmp_path / "missing.yaml")])
    assert exit_.value.code == 2
    capsys.readouterr()
    for argv, message in (
            (["run"], "give a config file, or --resume RUN_DIR"),
            (["run", "--resume", str(tmp_path)], "is not a run directory (no config.yaml)"),
            (["run", "--resume", str(tmp_path), "--set", "seed=1"],
             "--set, --data-home and --output start")):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err


def test_cli_run_predict_train_lm_generate_and_datasets(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: cli\ntask: classification\ndata: {name: sst2, test_split: test, limit: 300}\n"
        f"models: [{{type: nbsvm}}]\noutput: {tmp_path / 'runs'}\n")
    assert main(["run", str(config), "--quiet", "--set", "models[0].params.clf__C=2"]) == 0
    run_dir = next((tmp_path / "runs").iterdir())
    assert "clf__C: 2" in (run_dir / "config.yaml").read_text()
    from hybridnlp.experiments.report import run_section, shown_path

    command = f"Command: `hybridnlp run {shown_path(config)} --set models[0].params.clf__C=2`"
    assert command in run_section(run_dir, tmp_path / "RESULTS.md", "cli")  # how it was made
    inputs = tmp_path / "in.txt"
    inputs.write_text("a wonderful , moving film\na dull , lifeless mess\n")
    assert main(["predict", str(run_dir / "models" / "nbsvm"), "--input", str(inputs)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "text,prediction" and len(out) == 3
    assert {line.rsplit(",", 1)[1] for line in out[1:]} <= {"positive", "negative"}  # not 0/1
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(load_dataset("tinyshakespeare").data[0][:5000])
    assert main(["train-lm", str(corpus), "--output", str(tmp_path / "lm"), "--max-steps", "3",
                 "--quiet"]) == 0
    assert main(["generate", str(tmp_path / "lm"), "--prompt", "ROMEO:", "--max-new-tokens",
                 "10", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "ROMEO:" in out
    assert main(["datasets"]) == 0
    assert "mr" in capsys.readouterr().out
    assert main(["report", str(run_dir)]) == 0
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    for _ in range(2):  # idempotent: the section is replaced, not appended
        assert main(["report", str(run_dir), "--results", str(results), "--section", "cli"]) == 0
    text = results.read_text()
    assert "kept" in text and text.count("<!-- cli:start -->") == 1 and "| nbsvm |" in text
    help_run = subprocess.run([sys.executable, "-m", "hybridnlp.cli", "--help"],
                              capture_output=True, text=True)
    assert help_run.returncode == 0 and "usage: hybridnlp" in help_run.stdout
