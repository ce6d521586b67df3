"""``hybridnlp train-lm``, ``generate`` and ``translate``: language models and translators."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hybridnlp.cli._common import UsageError, load_model


def _train_lm(args) -> int:
    from hybridnlp.exceptions import Interrupted
    from hybridnlp.lm import CausalLM
    from hybridnlp.train import distributed

    if not Path(args.corpus).is_file():
        raise UsageError(f"corpus file {args.corpus!r} does not exist")
    if args.nproc < 1:
        raise UsageError(f"--nproc {args.nproc}: use 1 or more processes")
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:  # this process starts torchrun
        return _under_torchrun(args.nproc, args.argv)
    if args.resume and not args.checkpoint_dir:
        raise UsageError("--resume continues from --checkpoint-dir DIR; give the folder the "
                          "interrupted run wrote")
    main = distributed.is_main()
    lm = CausalLM(preset=args.preset, tokenizer=args.tokenizer, max_time=args.max_time,
                  max_steps="auto" if args.max_steps is None else args.max_steps,
                  random_state=args.seed, verbose=int(not args.quiet and main),
                  checkpoint_dir=args.checkpoint_dir)
    try:
        lm.fit(Path(args.corpus), resume=args.resume)
    except KeyboardInterrupt:
        raise Interrupted(_kept_checkpoint(args.checkpoint_dir)) from None
    finally:
        distributed.finish()
    if not main:  # rank 0 saves and reports
        return 0
    lm.save(args.output)
    loss = f"{lm.val_loss_:.4f}" if lm.val_loss_ is not None else "n/a"
    print(f"validation loss {loss} nats/token; model saved to {args.output}")
    return 0


def _kept_checkpoint(checkpoint_dir: str | None) -> str:
    """What an interrupted ``train-lm`` kept: the checkpoint of the last finished epoch."""
    if checkpoint_dir is None:
        return ("nothing was kept; pass --checkpoint-dir DIR to keep a checkpoint at the end "
                "of every epoch, and --resume to continue from it")
    from hybridnlp.utils.io import read_json

    try:
        step = read_json(Path(checkpoint_dir) / "trainer" / "trainer.json")["step"]
    except (FileNotFoundError, ValueError, KeyError):
        return (f"no epoch had finished, so {checkpoint_dir!r} holds no checkpoint yet; run "
                f"the same command again")
    return (f"the checkpoint of step {step} is kept in {checkpoint_dir!r}; continue with the "
            f"same command and --resume")


def _under_torchrun(nproc: int, argv: list[str]) -> int:
    """``hybridnlp ARGV`` again as ``nproc`` data-parallel processes on this machine
    (``torchrun --standalone``): the Trainer sees torchrun's environment."""
    import subprocess

    rest, skip = [], False
    for arg in argv:  # without --nproc: torchrun's own parser would take it
        if not skip and not arg.startswith("--nproc"):
            rest.append(arg)
        skip = arg == "--nproc"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "hybridnlp.cli", *rest]
    return subprocess.run(command, check=False).returncode


def _generate(args) -> int:
    model = load_model(args.model_dir)
    if not hasattr(model, "generate"):
        raise UsageError(f"the model in {args.model_dir!r} is not a language model")
    kw = dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    if args.num_beams != 1:
        kw.update(num_beams=args.num_beams, do_sample=False)
    if args.repetition_penalty != 1.0:
        kw["repetition_penalty"] = args.repetition_penalty
    if args.stop:
        kw["stop"] = args.stop
    try:
        if args.stream:
            if args.num_beams > 1:
                raise UsageError("--stream shows one sampled sequence; it cannot be combined "
                                  "with --num-beams > 1")
            print(args.prompt, end="", flush=True)
            for piece in model.generate(args.prompt, args.max_new_tokens, stream=True, **kw):
                print(piece, end="", flush=True)
            print()
        else:
            print(args.prompt + model.generate(args.prompt, args.max_new_tokens, **kw))
    except (TypeError, ValueError) as err:  # a bad setting (top_p=2), said by generate
        raise UsageError(str(err)) from None
    return 0


def _translate(args) -> int:
    """Translate one sentence a line of ``--input`` (or standard input), in batches of similar
    length, one translation a line on standard output (or ``--output``), in input order."""
    from hybridnlp.seq2seq import Seq2SeqLM

    model = load_model(args.model_dir)
    translator = getattr(model, "translator_", model)
    if not isinstance(translator, Seq2SeqLM):
        raise UsageError(f"the model in {args.model_dir!r} is not a translation model "
                          f"(a Seq2SeqLM or ShallowFusion)")
    if args.num_beams is not None and args.num_beams < 1:
        raise UsageError(f"--num-beams {args.num_beams} must be at least 1")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size {args.batch_size} must be at least 1")
    if args.output and (Path(args.output).is_dir() or not Path(args.output).parent.is_dir()):
        raise UsageError(f"--output {args.output!r} must be a file in an existing folder "
                          f"(it is {'a folder' if Path(args.output).is_dir() else 'not'})")
    where = "standard input" if args.input in (None, "-") else repr(args.input)
    try:
        if args.input in (None, "-"):
            lines = sys.stdin.buffer.read().decode("utf-8").splitlines()
        else:
            if not Path(args.input).is_file():
                raise UsageError(f"input file {args.input!r} does not exist")
            lines = Path(args.input).read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise UsageError(f"{where} is not UTF-8 text (byte {err.start}); save it as "
                          f"UTF-8") from None
    if not any(line.strip() for line in lines):
        raise UsageError(f"{where} holds no sentence (one sentence a line)")
    for i, line in enumerate(lines):  # a character the model never saw: named before decoding
        try:
            translator.tokenizer_.encode(line)
        except ValueError as err:
            raise UsageError(f"{where} line {i + 1}: {err}") from None
    blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
    if args.num_beams is not None:
        translator.num_beams = args.num_beams
    keep = [line for line in lines if line.strip()]
    out = iter(model.predict(keep, batch_size=args.batch_size,
                             progress=not args.quiet and len(keep) > args.batch_size))
    text = "\n".join("" if not line.strip() else next(out) for line in lines) + "\n"
    if args.output:
        from hybridnlp.utils.io import atomic_write_bytes

        atomic_write_bytes(args.output, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    if blank and not args.quiet:
        print(f"{len(blank)} empty lines (first: line {blank[0]}) were left empty",
              file=sys.stderr)
    return 0


def _add_train_lm(command) -> None:
    p = command("train-lm", "train a GPT language model on a text file")
    p.add_argument("corpus", help="a UTF-8 text file (.gz is decompressed)")
    p.add_argument("--output", required=True, help="model directory to write")
    p.add_argument("--preset", "--model", dest="preset", default="quick",
                   help="GPT preset (gpt-nano ... gpt2-xl)")
    p.add_argument("--tokenizer", default="char", choices=["char", "word", "bpe"],
                   help="token unit")
    p.add_argument("--max-time", type=float, default=None,
                   help="training budget in seconds (with neither budget: 2,000 steps)")
    p.add_argument("--max-steps", type=int, default=None, help="training budget in steps")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--checkpoint-dir", metavar="DIR", default=None,
                   help="keep a checkpoint here at the end of every epoch (a new or empty "
                        "folder, or one an earlier train-lm wrote)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --checkpoint-dir (same corpus and "
                        "settings)")
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="data-parallel processes (torchrun on this machine; the batch is "
                        "shared between them)")
    p.set_defaults(func=_train_lm)


def _add_generate(command) -> None:
    p = command("generate", "continue a prompt with a saved language model")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a directory written by train-lm")
    p.add_argument("--prompt", default="", help="text to continue")
    p.add_argument("--max-new-tokens", type=int, default=200, help="tokens to generate")
    p.add_argument("--temperature", type=float, default=0.8,
                   help="sampling temperature (lower: more predictable)")
    p.add_argument("--top-k", type=int, default=None, help="sample from the k likeliest tokens")
    p.add_argument("--top-p", type=float, default=None,
                   help="sample from the smallest set of tokens with this probability")
    p.add_argument("--repetition-penalty", type=float, default=1.0,
                   help="divide the scores of tokens already generated by this (1: off)")
    p.add_argument("--num-beams", type=int, default=1,
                   help="beam search with this many beams (1: sampling)")
    p.add_argument("--stop", action="append", default=[], metavar="TEXT",
                   help="end at the first occurrence of TEXT (repeatable)")
    p.add_argument("--stream", action="store_true", help="print the text as it is generated")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.set_defaults(func=_generate)


def _add_translate(command) -> None:
    p = command("translate", "translate text with a saved sequence-to-sequence model")
    p.add_argument("model_dir", metavar="MODEL_DIR",
                   help="a model directory, e.g. RUN_DIR/models/transformer")
    p.add_argument("--input", default=None,
                   help="UTF-8 text file, one sentence a line (default or '-': standard "
                        "input)")
    p.add_argument("--output", help="file to write, one translation a line (default: "
                                    "standard output)")
    p.add_argument("--num-beams", type=int, default=None,
                   help="beam size (default: the model's)")
    p.add_argument("--batch-size", type=int, default=64, help="sentences decoded together")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_translate)


def add_commands(command) -> None:
    """Register these subcommands; ``command(name, help)`` makes each one's parser."""
    _add_train_lm(command)
    _add_generate(command)
    _add_translate(command)
