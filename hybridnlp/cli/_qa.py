"""``hybridnlp index`` and ``ask``: question answering over a file of passages."""

from __future__ import annotations

from pathlib import Path

from hybridnlp.cli._common import UsageError, load_model


def _read_passages(path: str, what: str = "passage") -> list[str]:
    """Passages (or questions) of a text file (one a line, blank lines skipped), a SQuAD
    JSON / JSON Lines file (its distinct passages, or its questions), or a CSV/TSV with a
    ``text`` column."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{what}s file {path!r} does not exist")
    name = p.name.lower()
    try:
        if name.endswith((".json", ".json.gz", ".jsonl", ".jsonl.gz")):
            from hybridnlp.datasets.squad import load_squad

            squad = load_squad(p)
            return squad.passages if what == "passage" else list(squad.data)
        if name.endswith((".csv", ".tsv")):
            from hybridnlp.datasets import load_texts

            return list(load_texts(p, text_column="text", label_column=None).data)
        lines = [line.strip() for line in p.read_text("utf-8").splitlines()]
    except (ValueError, UnicodeDecodeError) as err:
        raise UsageError(str(err)) from None
    texts = [line for line in lines if line]
    if not texts:
        raise UsageError(f"{path!r} holds no {what} (one {what} a line)")
    return texts


def _index(args) -> int:
    from hybridnlp.qa import (
        BM25Retriever,
        HybridRetriever,
        QAPipeline,
        SlidingWindowReader,
        TfidfRetriever,
    )

    if args.top_k < 1:
        raise UsageError(f"--top-k {args.top_k}: read at least 1 passage")
    reader = _read_reader(args.reader) if args.reader else None
    passages = _read_passages(args.passages)
    retriever = {"bm25": BM25Retriever(), "tfidf": TfidfRetriever(),
                 "hybrid": HybridRetriever(retrievers=[("bm25", BM25Retriever()),
                                                       ("tfidf", TfidfRetriever())])
                 }[args.retriever]
    if args.train:
        from hybridnlp.datasets.squad import load_squad

        try:
            squad = load_squad(args.train)
        except (FileNotFoundError, ValueError) as err:
            raise UsageError(str(err)) from None
        qa = QAPipeline(retriever=retriever, reader=reader, top_k=args.top_k, random_state=0,
                        verbose=int(not args.quiet)).fit(
            squad.data, squad.passages, squad.target, passage_index=squad.passage_index)
        qa.index(passages)  # trained there, answering here
    else:  # nothing to learn from: the reader given, or the sliding-window reader
        reader = reader if reader is not None else SlidingWindowReader()
        qa = QAPipeline(retriever=retriever, reader=reader, top_k=args.top_k,
                        verbose=int(not args.quiet)).index(passages)
    qa.save(args.output)  # whole, then renamed into place
    print(f"indexed {len(passages):,} passages into {args.output} ({args.retriever}, reader "
          f"{type(qa.reader_).__name__})")
    return 0


def _read_reader(directory: str):
    """A fitted reader: a directory a reader's ``save`` wrote, or a local fine-tuned Hugging
    Face question-answering model (answering as it is; its code never runs)."""
    from hybridnlp.qa import ExtractiveReader
    from hybridnlp.qa.readers import load_reader
    from hybridnlp.utils.io import read_json

    path = Path(directory)
    if not path.is_dir():
        raise UsageError(f"reader directory {directory!r} does not exist")
    config = path / "config.json"
    try:
        saved = (path / "reader.json").is_file() or (
            config.is_file() and "kind" in read_json(config, what="reader"))
        if saved:
            return load_reader(path)
        if config.is_file():
            return ExtractiveReader.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise UsageError(str(err)) from None
    raise UsageError(f"{directory!r} holds no reader: expected a directory a reader's save "
                      f"wrote (reader.json or config.json) or a fine-tuned Hugging Face "
                      f"question-answering model (config.json and its weights)")


def _ask(args) -> int:
    import json

    from hybridnlp.qa import QAPipeline

    if not Path(args.index_dir).is_dir():
        raise UsageError(f"index directory {args.index_dir!r} does not exist")
    if (args.question is None) == (args.questions is None):
        raise UsageError("give one question, or --questions FILE (one question a line)")
    questions = [args.question] if args.questions is None else _read_passages(
        args.questions, "question")
    if not all(q.strip() for q in questions):
        raise UsageError("the question is empty")
    if args.top_k is not None and args.top_k < 1:
        raise UsageError(f"--top-k {args.top_k}: read at least 1 passage")
    qa = load_model(args.index_dir)  # one snapshot: never a mix of two indexes
    if not isinstance(qa, QAPipeline):
        raise UsageError(f"{args.index_dir!r} holds a {type(qa).__name__}, not an index "
                          f"written by hybridnlp index")
    if args.top_k is not None:
        qa.top_k = args.top_k
    qa.verbose = int(not args.quiet)  # a bar on standard error over many questions
    answers = qa.predict(questions)  # one process, every question
    if args.json:
        for q, a in zip(questions, answers, strict=True):
            print(json.dumps({"question": q, **a}, ensure_ascii=False))
        return 0
    if len(questions) > 1:
        for q, a in zip(questions, answers, strict=True):
            print(f"{q}\t{a['text'] if a['text'] is not None else '(no answer)'}")
        return 0
    answer = answers[0]
    if answer["text"] is None:
        print("no answer: none of the question's words is in the index, or no passage "
              "retrieved holds a candidate span")
        return 0
    passage = qa.passages_[answer["passage"]]
    print(f"answer: {answer['text']}")
    print(f"score: {answer['score']:.3f}")
    print(f"passage {answer['passage']}: {passage[:300]}{'...' if len(passage) > 300 else ''}")
    return 0


def _add_index(command) -> None:
    p = command("index", "index passages for question answering")
    p.add_argument("passages", metavar="PASSAGES_FILE",
                   help="one passage a line (.txt), a SQuAD JSON / JSON Lines file, or a "
                        "CSV/TSV with a text column")
    p.add_argument("--output", required=True, help="index directory to write")
    p.add_argument("--retriever", default="bm25", choices=["bm25", "tfidf", "hybrid"],
                   help="bm25: Okapi BM25 (the default: the best single retriever measured); "
                        "tfidf: DrQA's hashed unigram + bigram TF-IDF; hybrid: both, fused "
                        "(by reciprocal rank, or by a logistic regression learnt on the --train "
                        "questions) where that finds more passages than either alone on the "
                        "--train questions (without them, on questions made from the "
                        "passages), else the better one alone")
    p.add_argument("--train", metavar="SQUAD_FILE",
                   help="SQuAD-format questions to train the reader and the score combination "
                        "on (without: the sliding-window reader, or --reader as it is)")
    p.add_argument("--reader", metavar="DIR",
                   help="a fitted reader: a directory a reader's save wrote (e.g. a "
                        "fine-tuned ExtractiveReader) or a local fine-tuned Hugging Face "
                        "question-answering model; with --train only the score combination "
                        "is learnt")
    p.add_argument("--top-k", type=int, default=5, help="passages read per question")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_index)


def _add_ask(command) -> None:
    p = command("ask", "answer a question from an index")
    p.add_argument("index_dir", metavar="DIR", help="a directory written by index")
    p.add_argument("question", nargs="?", help="the question (or --questions FILE)")
    p.add_argument("--questions", metavar="FILE",
                   help="one question a line, all answered in this one process")
    p.add_argument("--json", action="store_true",
                   help="one JSON object a line: question, text, passage, start, end, score")
    p.add_argument("--top-k", type=int, default=None, help="passages read (default: the index's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_ask)


def add_commands(command) -> None:
    """Register these subcommands; ``command(name, help)`` makes each one's parser."""
    _add_index(command)
    _add_ask(command)
