"""The CLI on bad input: exit status 2 and one line naming the problem, never a traceback;
and the options it offers."""

import pytest
from conftest import cli_error

from hybridnlp.cli import main
from hybridnlp.lm import CausalLM, NGramLM
from hybridnlp.persistence import save_model


@pytest.fixture(scope="module")
def folders(tmp_path_factory, mr_small):
    from hybridnlp.experiments import build_model

    root = tmp_path_factory.mktemp("cli")
    texts, y = mr_small
    save_model(build_model("nbsvm", {}).fit(texts, y), root / "clf")
    corpus = "to be or not to be, that is the question. " * 40
    save_model(CausalLM(preset="gpt-nano", max_steps=30, random_state=0).fit(corpus), root / "lm")
    save_model(NGramLM(order=3, tokenizer="char").fit(corpus), root / "ngram")
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
