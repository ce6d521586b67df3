"""Question answering: the official SQuAD v1.1 metric, SQuAD-format files, and the
retrievers (BM25 equal to rank_bm25's, DrQA's TF-IDF on small collections, fusion)."""

import gzip
import json
import zlib

import numpy as np
import pytest
from conftest import requires_data_dir
from sklearn.base import clone

from hybridnlp.datasets.squad import load_squad
from hybridnlp.exceptions import NotFittedError
from hybridnlp.qa import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    TfidfRetriever,
    normalize_answer,
    recall_at_k,
    squad_em_f1,
    token_f1,
)
from hybridnlp.qa._answers import answer_dicts

PASSAGES = [
    "The Denver Broncos defeated the Carolina Panthers 24-10 to win Super Bowl 50.",
    "Super Bowl 50 was played at Levi's Stadium in Santa Clara, California.",
    "Beyonce and Bruno Mars performed at the halftime show of the game.",
    "The Panthers had a 15-1 record in the regular season, the best in the league.",
    "Santa Clara is a city in Santa Clara County, California, in the Bay Area.",
]


# ---------------------------------------------------------------------- the official metric

@pytest.mark.parametrize("text, normal", [
    ("The Denver Broncos!", "denver broncos"),
    ("  an   apple, a pear  ", "apple pear"),
    ("Theatre", "theatre"),            # "the" only as a word
    ("U.S.A.", "usa"),                 # punctuation removed before articles
    ("the-end", "theend"),
])
def test_answers_are_normalised_as_the_official_script_does(text, normal):
    assert normalize_answer(text) == normal


def test_exact_match_and_f1_take_the_best_reference_and_unanswered_scores_zero():
    refs = [["Denver Broncos", "The Broncos"], ["Santa Clara, California"], ["24-10"]]
    preds = ["the broncos.", "Santa Clara", None]
    scores = squad_em_f1(preds, refs)
    assert scores["exact_match"] == pytest.approx(100 / 3)
    # "santa clara" vs "santa clara california": precision 1, recall 2/3 -> f1 0.8
    assert token_f1("Santa Clara", "Santa Clara, California") == pytest.approx(0.8)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.8 + 0) / 3)
    assert token_f1("a the", "the") == 0.0  # nothing left after normalisation
    assert token_f1("the cat cat", "cat") == pytest.approx(2 * 0.5 * 1 / 1.5)
    by_id = squad_em_f1({"q1": "Denver Broncos"}, {"q1": ["Denver Broncos"], "q2": ["x"]})
    assert by_id == {"exact_match": 50.0, "f1": 50.0}
    assert squad_em_f1(["x"], [[{"text": "x", "answer_start": 0}]])["exact_match"] == 100.0
    with pytest.raises(ValueError, match="got 1 predictions and 2 references"):
        squad_em_f1(["x"], [["x"], ["y"]])


def test_recall_at_k():
    ranked = np.array([[3, 1, 2], [0, 2, 1], [1, 0, 2]])
    assert recall_at_k(ranked, [1, 1, 1], ks=(1, 2, 3)) == pytest.approx(
        {1: 100 / 3, 2: 200 / 3, 3: 100.0})


# ---------------------------------------------------------------------- SQuAD files

def _squad(qas, context="Denver won the game."):
    return {"version": "1.1", "data": [{"title": "T", "paragraphs": [
        {"context": context, "qas": qas}]}]}


def test_load_squad_reads_json_gz_and_jsonl(tmp_path):
    obj = _squad([{"id": "a", "question": "Who won?",
                   "answers": [{"text": "Denver", "answer_start": 0}]}])
    (tmp_path / "s.json.gz").write_bytes(gzip.compress(json.dumps(obj).encode()))
    b = load_squad(tmp_path / "s.json.gz")
    assert b.data == ["Who won?"] and b.target == [["Denver"]] and b.passages == [
        "Denver won the game."] and list(b.passage_index) == [0]
    row = {"id": "a", "question": "Who won?", "context": "Denver won the game.",
           "answers": {"text": ["Denver"], "answer_start": [0]}}
    (tmp_path / "s.jsonl").write_text(json.dumps(row) + "\n" + json.dumps({**row, "id": "b"}))
    j = load_squad(tmp_path / "s.jsonl")
    assert j.ids == ["a", "b"] and j.passages == ["Denver won the game."]
    assert list(j.passage_index) == [0, 0]


@pytest.mark.parametrize("qas, message", [
    ([{"id": "q7", "question": "Who?", "answers": [{"text": "Denver", "answer_start": 3}]}],
     "question 'q7': answer 'Denver' at answer_start=3 does not match its passage"),
    ([{"id": "q1", "question": "Who?", "answers": []}] * 2, "question id 'q1' occurs twice"),
    ([{"id": "q2", "question": " ", "answers": []}], "question 'q2' is empty"),
])
def test_bad_squad_files_are_refused_naming_the_question(tmp_path, qas, message):
    (tmp_path / "bad.json").write_text(json.dumps(_squad(qas)))
    with pytest.raises(ValueError, match=message):
        load_squad(tmp_path / "bad.json")


# ---------------------------------------------------------------------- retrievers

def test_bm25_okapi_scores_equal_rank_bm25s():
    rank_bm25 = pytest.importorskip("rank_bm25")
    from hybridnlp.qa.retrievers import _Terms

    terms = _Terms(stop_words=False, bigrams=False)
    peer = rank_bm25.BM25Okapi([terms(p) for p in PASSAGES], k1=1.2, b=0.6, epsilon=0.3)
    ours = BM25Retriever(idf="okapi", k1=1.2, b=0.6, epsilon=0.3).fit(PASSAGES)
    queries = ["Who won Super Bowl 50?", "Santa Clara California", "halftime show halftime",
               "unknown words only"]
    expected = np.array([peer.get_scores(terms(q)) for q in queries])
    np.testing.assert_allclose(ours.score_passages(queries), expected, rtol=1e-5, atol=1e-6)


def test_bm25_lucene_idf_is_positive_and_search_ranks_best_first():
    bm25 = BM25Retriever().fit(PASSAGES, ids=[f"p{i}" for i in range(5)])
    assert (bm25.idf_ > 0).all()
    N, df = 5, 2  # "santa" is in two passages
    vocab = bm25.vectorizer_.vocabulary_
    assert bm25.idf_[vocab["santa"]] == pytest.approx(np.log1p((N - df + 0.5) / (df + 0.5)))
    ids, scores = bm25.search(["Where was Super Bowl 50 played?", "halftime show"], k=2)
    assert ids[0, 0] == "p1" and ids[1, 0] == "p2"
    assert (np.diff(scores, axis=1) <= 0).all()
    one_ids, _ = bm25.search("halftime show", k=10)
    assert one_ids.shape == (5,)  # k is capped at the collection


def test_drqa_idf_vanishes_on_a_tiny_collection_and_the_smooth_one_does_not():
    tiny = ["the game was played", "the game was won"]
    drqa = TfidfRetriever(idf="drqa", stop_words=False).fit(tiny)
    assert (drqa.score_passages(["game"]) == 0).all()  # in every passage: idf clipped to 0
    smooth = TfidfRetriever(stop_words=False).fit(tiny)
    assert (smooth.score_passages(["game"]) > 0).all()
    assert smooth.search("game won", k=1)[0][0] == 1  # the bigram and "won" decide


@pytest.mark.parametrize("make", [BM25Retriever, TfidfRetriever])
def test_sparse_retrievers_save_and_load(make, tmp_path):
    r = make().fit(PASSAGES, ids=list("abcde"))
    r.save(tmp_path / "r")
    loaded = make.load(tmp_path / "r")
    q = ["Santa Clara", "Broncos Panthers score"]
    np.testing.assert_allclose(loaded.score_passages(q), r.score_passages(q))
    assert (loaded.search(q, k=3)[0] == r.search(q, k=3)[0]).all()


def test_fusion_rrf_and_learned():
    parts = [("bm25", BM25Retriever()), ("tfidf", TfidfRetriever())]
    rrf = HybridRetriever(retrievers=parts).fit(PASSAGES)
    s = rrf.score_passages(["Santa Clara California"])[0]
    b = BM25Retriever().fit(PASSAGES).search("Santa Clara California", k=5)[0]
    t = TfidfRetriever().fit(PASSAGES).search("Santa Clara California", k=5)[0]
    expected = np.zeros(5)
    for ranking in (b, t):
        for rank, pid in enumerate(ranking):
            expected[pid] += 1 / (60 + rank + 1)
    np.testing.assert_allclose(s, expected, rtol=1e-6)
    questions = ["Who won Super Bowl 50?", "Where is Santa Clara?", "Who performed at halftime?",
                 "What was the Panthers record?"]
    learned = HybridRetriever(retrievers=parts, fusion="learned").fit(PASSAGES, questions=questions,
                                                           gold=[0, 4, 2, 3])
    X, cand = learned._features([r.score_passages(questions[:1]) for _, r in learned.retrievers_])
    z = learned.combiner_.decision_function(X.reshape(-1, X.shape[-1]))
    scores = learned.score_passages(questions[:1])[0]
    for passage, value in zip(cand[0], z, strict=True):  # the combiner's score per candidate
        assert scores[passage] == pytest.approx(value, rel=1e-5)
    assert list(learned.search(questions[1:], k=1)[0][:, 0]) == [4, 2, 3]


def _collection(n=40, seed=0):
    """Passages of two or three sentences of random words (each passage its own topic)."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(400)]
    out = []
    for _ in range(n):
        topic = rng.choice(vocab, size=12, replace=False)
        out.append(" ".join(" ".join(rng.choice(topic, size=8)) + "." for _ in range(
            rng.integers(2, 4))))
    return out


def test_pseudo_questions_keep_half_a_sentence_or_cut_the_whole_one():
    from hybridnlp.qa.retriever_fusion import _pseudo_questions

    texts = _collection()
    collection, questions, gold = _pseudo_questions(texts, np.random.default_rng(0))
    assert len(questions) == len(gold) == 40 and sorted(gold) == list(range(40))
    for j, (q, g) in enumerate(zip(questions, gold, strict=True)):
        if j % 2 == 0:  # half of a sentence's words, in order; the passage unchanged
            assert len(q.split()) == 4 and collection[g] == texts[g]
            sentences = [t.replace(".", " .").split() for t in texts[g].split(". ")]
            sentences = [t if t[-1] == "." else [*t, "."] for t in sentences]
            iters = [iter(t) for t in sentences]  # a subsequence of one sentence, in order
            assert any(all(w in it for w in q.split()) for it in iters)
        else:  # a whole sentence, cut from its passage
            assert q in texts[g] and q not in collection[g] and q.endswith(".")
    assert _pseudo_questions(PASSAGES, np.random.default_rng(0)) is None  # one sentence each


def test_auto_fusion_falls_back_to_the_best_single_retriever(tmp_path):
    texts = _collection()
    weak = DenseRetriever(vector_size=4, epochs=1, random_state=0)
    auto = HybridRetriever(retrievers=[("bm25", BM25Retriever()), ("weak", weak)]).fit(texts)
    assert set(auto.fusion_scores_) == {"bm25", "weak", "rrf"}
    assert auto.fusion_ == "bm25" and auto.fusion_scores_["bm25"] > auto.fusion_scores_["weak"]
    q = ["w1 w2 w3", texts[7][:30]]
    np.testing.assert_array_equal(auto.score_passages(q),
                                  BM25Retriever().fit(texts).score_passages(q))
    auto.save(tmp_path / "auto")
    back = HybridRetriever.load(tmp_path / "auto")
    assert back.fusion_ == "bm25" and back.fusion_scores_ == auto.fusion_scores_
    np.testing.assert_array_equal(back.score_passages(q), auto.score_passages(q))
    # with training questions: each candidate's recall@5 on them, the learned one out of fold
    questions = [t.split(".")[0] for t in texts]
    gold = np.arange(len(texts))
    given = HybridRetriever(retrievers=[("bm25", BM25Retriever()), ("weak", weak)]).fit(
        texts, questions=questions, gold=gold)
    assert set(given.fusion_scores_) == {"bm25", "weak", "rrf", "learned"}
    for name, r in given.retrievers_:
        assert given.fusion_scores_[name] == pytest.approx(
            recall_at_k(r.search(questions, k=5)[0], gold)[5] / 100)
    best = max(given.fusion_scores_.values())
    assert given.fusion_scores_[given.fusion_] == best
    assert given.fusion_ == "bm25" or given.fusion_scores_[given.fusion_] > max(
        given.fusion_scores_[n] for n in ("bm25", "weak"))
    # chosen on a training collection, searching another one
    other = _collection(30, seed=1)
    moved = HybridRetriever(retrievers=[("bm25", BM25Retriever()), ("weak", weak)]).fit(
        other, questions=questions, gold=gold, question_passages=texts)
    assert moved.fusion_scores_ == given.fusion_scores_ and moved.fusion_ == given.fusion_
    assert moved.n_passages_ == 30 and all(r.n_passages_ == 30 for _, r in moved.retrievers_)
    # too small a collection to choose on: RRF; rrf and names are checked
    assert HybridRetriever(retrievers=[("bm25", BM25Retriever()), ("weak", weak)]).fit(
        PASSAGES).fusion_ == "rrf"
    with pytest.raises(ValueError, match=r"the name\(s\) \['bm25'\] are used twice or name "
                                         r"a fusion \(auto, rrf, learned\)"):
        HybridRetriever(retrievers=[("bm25", BM25Retriever()), ("bm25", weak)]).fit(PASSAGES)


def test_retrievers_refuse_bad_input():
    with pytest.raises(ValueError, match="passages is empty"):
        BM25Retriever().fit([])
    with pytest.raises(ValueError, match=r"passages\[1\] is empty"):
        BM25Retriever().fit(["a b", "  "])
    with pytest.raises(ValueError, match="passage id 'x' occurs twice"):
        BM25Retriever().fit(["a", "b"], ids=["x", "x"])
    with pytest.raises(ValueError, match=r"queries contains a missing value \(None\) at index 1"):
        BM25Retriever().fit(PASSAGES).search(["a", None])
    with pytest.raises(ValueError, match=r"queries\[0\] is empty"):
        BM25Retriever().fit(PASSAGES).search([""])
    with pytest.raises(NotFittedError, match="^this BM25Retriever is not fitted yet; call fit "
                                             "first.$"):
        BM25Retriever().search(["a"])
    with pytest.raises(ValueError, match="idf='bm42' is not allowed"):
        BM25Retriever(idf="bm42").fit(PASSAGES)


def test_dense_retriever_finds_passages_of_the_same_words():
    dense = DenseRetriever(vector_size=16, epochs=50, random_state=0).fit(PASSAGES * 4)
    ids, _ = dense.search(["Santa Clara County Bay Area"], k=4)
    assert 4 in ids[0]  # one of the four copies of passage 4


@requires_data_dir
def test_squad_loads_by_name():
    from hybridnlp import load_dataset

    dev = load_dataset("squad", split="dev")
    assert len(dev.data) == 4961 and len(dev.passages) == 913
    assert dev.target[0] == ["Denver Broncos"] * 3
    start = dev.answer_starts[0][0]
    assert dev.passages[dev.passage_index[0]][start:start + 14] == "Denver Broncos"
    with pytest.raises(ValueError, match="pass split="):
        load_dataset("squad")


# ---------------------------------------------------------------------- readers and pipeline

QUESTIONS = ["Who won Super Bowl 50?", "Where was Super Bowl 50 played?",
             "Who performed at the halftime show?", "What was the Panthers' record?"]
ANSWERS = [["Denver Broncos"], ["Levi's Stadium"], ["Beyonce and Bruno Mars"], ["15-1"]]
GOLD = [0, 1, 2, 3]


def test_word_spans_and_question_types():
    from hybridnlp.qa.readers import question_type, word_spans

    text = "Levi's Stadium, 24-10."
    assert [text[a:b] for a, b in word_spans(text)] == ["Levi's", "Stadium", ",", "24-10", "."]
    assert [question_type(q) for q in ["How many points?", "Who won?", "In which year?",
                                       "Name it."]] == ["how many", "who", "which", "other"]


def test_sliding_window_picks_the_span_beside_the_question_words():
    from hybridnlp.qa import SlidingWindowReader

    reader = SlidingWindowReader(window=3, max_answer_words=2).fit(None, PASSAGES)
    span = reader.predict(["Who defeated the Carolina Panthers?"], PASSAGES[:1])[0]
    text = PASSAGES[0][span.start:span.end]
    assert text in ("Denver Broncos", "Broncos", "The Denver")
    assert "Panthers" not in text  # a candidate holding question words is skipped


def test_logistic_reader_learns_spans_and_returns_offsets():
    from hybridnlp.qa import LogisticReader

    passages = [PASSAGES[g] for g in GOLD] * 5
    starts = [[PASSAGES[g].find(a[0])] for g, a in zip(GOLD, ANSWERS, strict=True)] * 5
    reader = LogisticReader(random_state=0, negatives=10).fit(
        QUESTIONS * 5, passages, [{"text": a[0], "answer_start": s[0]}
                                  for a, s in zip(ANSWERS * 5, starts, strict=True)])
    spans = reader.predict(QUESTIONS, [PASSAGES[g] for g in GOLD])
    texts = [PASSAGES[g][s.start:s.end] for g, s in zip(GOLD, spans, strict=True)]
    assert squad_em_f1(texts, ANSWERS)["f1"] > 50
    with pytest.raises(ValueError, match=r"^answers\[0\]: 'Broncos' at answer_start=0 does not "
                                         r"match its passage \(which reads 'The Den' there\).$"):
        reader.fit(QUESTIONS[:1], PASSAGES[:1], [{"text": "Broncos", "answer_start": 0}])


def test_logistic_reader_lexical_features_extend_the_window_features(tmp_path):
    from scipy import sparse

    from hybridnlp.qa import LogisticReader
    from hybridnlp.qa.logistic_reader import _HASH_BUCKETS, _hash
    from hybridnlp.qa.readers import _Passage, load_reader, save_reader, word_spans

    passages = [PASSAGES[g] for g in GOLD] * 5
    args = (QUESTIONS * 5, passages, [a[0] for a in ANSWERS] * 5)  # texts found in passages
    plain = LogisticReader(random_state=0, negatives=10, lexical=False).fit(*args)
    lexical = LogisticReader(random_state=0, negatives=10).fit(*args)
    gold = [PASSAGES[g] for g in GOLD]
    p = gold[0]
    raw = [p[a:b] for a, b in word_spans(p)]
    words = [w.lower() for w in raw]
    first, last = lexical._candidates(words)
    old = plain._features(_Passage(plain, QUESTIONS[0], raw, words), first, last)
    new = lexical._features(_Passage(lexical, QUESTIONS[0], raw, words), first, last)
    assert isinstance(old, np.ndarray) and sparse.issparse(new)
    assert new.shape == (len(first), old.shape[1] + 16 + _HASH_BUCKETS)
    # the first columns are the window features, unchanged; then 16 sentence, shared-prefix
    # and boundary columns; then 2 question keys x 7 span keys hashed (14 ones, fewer on a
    # collision)
    np.testing.assert_allclose(new[:, :old.shape[1]].toarray(), old)
    hashed = new[:, old.shape[1] + 16:]
    assert set(hashed.data) == {1.0} and 10 <= hashed.sum(1).min() <= hashed.sum(1).max() <= 14
    assert _hash("t=who|last=broncos") == zlib.crc32(b"t=who|last=broncos") % _HASH_BUCKETS
    # saved as JSON and read back, the same answers; a reader written before the lexical
    # features (no "lexical" among its params) loads as the window-feature reader it was
    save_reader(lexical, tmp_path / "lex")
    assert load_reader(tmp_path / "lex").predict(QUESTIONS, gold) == \
        lexical.predict(QUESTIONS, gold)
    save_reader(plain, tmp_path / "old")
    state = json.loads((tmp_path / "old" / "reader.json").read_text())
    del state["params"]["lexical"]
    (tmp_path / "old" / "reader.json").write_text(json.dumps(state))
    old_loaded = load_reader(tmp_path / "old")
    assert old_loaded.lexical is False
    assert old_loaded.predict(QUESTIONS, gold) == plain.predict(QUESTIONS, gold)
    # a lexical reader written before the shared-prefix columns (no "feature_set", 4 fewer
    # weights) computes the features it was trained on
    state = json.loads((tmp_path / "lex" / "reader.json").read_text())
    assert state.pop("feature_set") == 3
    width = old.shape[1] + 5
    state["model"]["coef"] = [w[:width] + w[width + 4:] for w in state["model"]["coef"]]
    (tmp_path / "lex" / "reader.json").write_text(json.dumps(state))
    before = load_reader(tmp_path / "lex")
    assert before.feature_set_ == 1
    assert before._features(_Passage(before, QUESTIONS[0], raw, words), first, last).shape \
        == (len(first), new.shape[1] - 4)
    assert [s.start for s in before.predict(QUESTIONS, gold)]  # reads without a shape error
    state["feature_set"] = 4
    (tmp_path / "lex" / "reader.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match=r"field 'feature_set' must be an integer in 1\.\.3, "
                                         r"got 4; a newer hybridnlp wrote it, or it was "
                                         r"edited\.$"):
        load_reader(tmp_path / "lex")


def test_conditional_logit_of_pairs_is_a_logistic_regression_on_their_differences():
    """With one negative a group, the softmax is a sigmoid of the score difference: the same
    weights as scikit-learn's logistic regression (no intercept) on x_pos - x_neg, where the
    rows (d, 1) and (-d, 0) count each pair twice (so half the C)."""
    from sklearn.linear_model import LogisticRegression

    from hybridnlp.qa._linear import conditional_logit

    rng = np.random.default_rng(0)
    pos, neg = rng.normal(size=(200, 6)), rng.normal(size=(200, 6))
    pos[:, 0] += 1.0
    X = np.empty((400, 6))
    X[0::2], X[1::2] = pos, neg
    ours = conditional_logit(X, np.repeat(np.arange(200), 2), np.arange(0, 400, 2), C=0.7)
    d = pos - neg
    peer = LogisticRegression(C=0.35, fit_intercept=False, tol=1e-10, max_iter=10_000).fit(
        np.vstack([d, -d]), np.r_[np.ones(200), np.zeros(200)])
    np.testing.assert_allclose(ours.coef_, peer.coef_, atol=1e-4)
    assert ours.intercept_.tolist() == [0.0] and ours.coef_[0, 0] > 0.5
    np.testing.assert_allclose(ours.decision_function(X[:4]), X[:4] @ ours.coef_[0])


def test_logistic_reader_counts_other_forms_and_refits_on_its_hardest_negatives(monkeypatch):
    from hybridnlp.qa import LogisticReader, logistic_reader
    from hybridnlp.qa.readers import _Passage, word_spans

    reader = LogisticReader(random_state=0, negatives=10).fit(
        QUESTIONS * 5, [PASSAGES[g] for g in GOLD] * 5, [a[0] for a in ANSWERS] * 5)
    p = "They were defeated, and the defeat stood; Defeating them took a win."
    raw = [p[a:b] for a, b in word_spans(p)]
    words = [w.lower() for w in raw]
    passage = _Passage(reader, "Who was defeated in the final?", raw, words)
    forms = np.diff(passage.cf)  # the words sharing "defea" with the question's "defeated"
    assert [w for w, f in zip(words, forms, strict=True) if f > 0] == ["defeat", "defeating"]
    assert forms[words.index("defeat")] == pytest.approx(reader._ic("defeat"))
    # feature set 3: an irregular verb's other forms too ("won" of "win", "took" of "taken");
    # a reader trained on feature set 2 keeps computing the columns it was trained on
    p = "The Broncos won in 2016 and took the title; they win often, as they had taken it."
    raw = [p[a:b] for a, b in word_spans(p)]
    words = [w.lower() for w in raw]
    question = "Who will win, and who has taken it?"
    assert reader.feature_set_ == 3
    forms = np.diff(_Passage(reader, question, raw, words).cf)
    assert [w for w, f in zip(words, forms, strict=True) if f > 0] == ["won", "took"]
    reader.feature_set_ = 2
    assert not np.diff(_Passage(reader, question, raw, words).cf).any()
    reader.feature_set_ = 3
    fitted, scores = [], []
    original = logistic_reader.conditional_logit

    def recording(X, groups, positives, *, C):
        if fitted:  # the second fit: how the first model ranked each question's negatives
            model = fitted[-1]
            s = model.decision_function(X)
            for k in range(len(positives)):
                rows = np.flatnonzero(np.asarray(groups) == k)[1:]
                scores.append(s[rows])
        fitted.append(original(X, groups, positives, C=C))
        return fitted[-1]

    monkeypatch.setattr(logistic_reader, "conditional_logit", recording)
    args = (QUESTIONS * 5, [PASSAGES[g] for g in GOLD] * 5, [a[0] for a in ANSWERS] * 5)
    LogisticReader(random_state=0, negatives=10, hard_negatives=False).fit(*args)
    assert len(fitted) == 1
    fitted.clear()
    LogisticReader(random_state=0, negatives=10).fit(*args)
    assert len(fitted) == 2
    # the first 5 negatives of each question are the first model's best wrong spans, in order
    assert len(scores) == 20 and all(len(s) == 10 for s in scores)
    assert all(np.all(np.diff(s[:5]) <= 0) and s[:5].min() >= s[5:].max() for s in scores)
    with pytest.raises(ValueError, match=r"^hard_negatives must be True or False, got 1\.$"):
        LogisticReader(hard_negatives=1).fit(*args)


def test_pipeline_answers_over_the_collection_and_over_new_passages():
    from hybridnlp.qa import QAPipeline

    qa = QAPipeline(top_k=2, random_state=0).fit(QUESTIONS * 3, PASSAGES, ANSWERS * 3,
                                                 passage_index=GOLD * 3,
                                                 passage_ids=list("abcde"))
    assert set(qa.weight_scores_) == {0.0, 0.25, 0.5, 1.0, 2.0, 4.0}
    out = qa.predict(QUESTIONS)
    assert [o["passage"] for o in out][:2] == ["a", "b"]
    for o in out:
        p = PASSAGES["abcde".index(o["passage"])]
        assert p[o["start"]:o["end"]] == o["text"] and np.isfinite(o["score"])
    new = qa.predict(["Where is Santa Clara?"], passages=PASSAGES[3:])
    assert new[0]["passage"] == 1  # a position in the passages given
    with pytest.raises(ValueError, match=r"answers\[0\]: 'Seattle' does not occur"):
        QAPipeline().fit(QUESTIONS[:1], PASSAGES, [["Seattle"]], passage_index=[0])
    with pytest.raises(ValueError, match="passage_index holds positions outside 0..4"):
        QAPipeline().fit(QUESTIONS[:1], PASSAGES, ANSWERS[:1], passage_index=[7])


def test_pipeline_index_keeps_the_fusion_its_retriever_learnt_on_the_training_questions():
    """A pipeline fit with a learned fusion searches a new collection with it (as the
    retriever fit on the new passages with ``question_passages`` does), not with RRF."""
    from hybridnlp.qa import QAPipeline

    def hybrid():
        return HybridRetriever(retrievers=[("bm25", BM25Retriever()),
                                           ("tfidf", TfidfRetriever())], fusion="learned")

    qa = QAPipeline(retriever=hybrid(), top_k=2, weight=1.0, random_state=0).fit(
        QUESTIONS * 3, PASSAGES, ANSWERS * 3, passage_index=GOLD * 3)
    learnt = qa.retriever_
    assert learnt.fusion_ == "learned"
    new = PASSAGES[::-1] + ["The Broncos won their third Super Bowl title in 2016."]
    qa.index(new, passage_ids=list("vwxyzs"))
    r = qa.retriever_
    assert r is not learnt and learnt.n_passages_ == 5  # the fitted one is untouched
    assert r.fusion_ == "learned" and r.combiner_ is learnt.combiner_ and r.n_passages_ == 6
    peer = hybrid().fit(new, ids=list("vwxyzs"), questions=QUESTIONS * 3, gold=GOLD * 3,
                        question_passages=PASSAGES)
    np.testing.assert_allclose(peer.combiner_.coef_, r.combiner_.coef_)
    q = ["Who won the title?", "Santa Clara County"]
    np.testing.assert_allclose(r.score_passages(q), peer.score_passages(q), rtol=1e-6)
    assert (r.search(q, k=3)[0] == peer.search(q, k=3)[0]).all()
    assert qa.predict(q)[0]["passage"] in set("vwxyzs")


def test_pipeline_chooses_the_weight_on_reads_by_readers_that_did_not_see_the_passage():
    from hybridnlp.qa import LogisticReader, QAPipeline

    fits = []

    class Counting(LogisticReader):
        def fit(self, questions, passages, answers, *, passage_index=None):
            fits.append({passages[i] for i in passage_index})
            return super().fit(questions, passages, answers, passage_index=passage_index)

    args = (QUESTIONS * 3, PASSAGES, ANSWERS * 3)
    qa = QAPipeline(reader=Counting(random_state=0, negatives=10), top_k=2,
                    random_state=0).fit(*args, passage_index=GOLD * 3)
    assert len(fits) == 4 and fits[0] == {PASSAGES[g] for g in GOLD}  # all, then 3 folds
    assert all(fold < fits[0] for fold in fits[1:])  # each fold leaves passages out ...
    assert set().union(*(fits[0] - f for f in fits[1:])) == fits[0]  # ... each one once
    fits.clear()
    in_sample = QAPipeline(reader=Counting(random_state=0, negatives=10), top_k=2,
                           weight_cv=None, random_state=0).fit(*args, passage_index=GOLD * 3)
    assert len(fits) == 1 and set(in_sample.weight_scores_) == set(qa.weight_scores_)
    with pytest.raises(ValueError, match="^weight_cv=1 is out of range; it must be >= 2.$"):
        QAPipeline(weight_cv=1).fit(*args, passage_index=GOLD * 3)


def test_pipeline_progress_bars_draw_on_standard_error_only_when_verbose(capsys, monkeypatch):
    from hybridnlp.qa import QAPipeline, pipeline

    args = (QUESTIONS * 3, PASSAGES, ANSWERS * 3)
    quiet = QAPipeline(top_k=2, random_state=0, weight_cv=2).fit(*args, passage_index=GOLD * 3)
    quiet_answers = quiet.predict(QUESTIONS)
    assert capsys.readouterr() == ("", "")
    monkeypatch.setattr(pipeline, "READ_BLOCK", 2)  # a bar over reads from 3 questions on
    loud = QAPipeline(top_k=2, random_state=0, weight_cv=2, verbose=1).fit(
        *args, passage_index=GOLD * 3)
    err = capsys.readouterr().err
    assert "QA fit: index, reader, held-out reads, combiner" in err
    assert "reader: the training questions' spans" in err  # the reader got verbose=1
    assert "reading 2 passages a question" in err
    assert loud.predict(QUESTIONS) == quiet_answers  # only the bars differ
    assert capsys.readouterr().out == ""


def test_pipeline_save_load_and_the_index_and_ask_commands(tmp_path, capsys):
    from conftest import cli_error

    from hybridnlp.cli import main
    from hybridnlp.qa import QAPipeline, SlidingWindowReader

    qa = QAPipeline(top_k=2, random_state=0).fit(QUESTIONS * 3, PASSAGES, ANSWERS * 3,
                                                 passage_index=GOLD * 3)
    qa.save(tmp_path / "qa")
    loaded = QAPipeline.load(tmp_path / "qa")
    assert loaded.predict(QUESTIONS) == qa.predict(QUESTIONS)
    with pytest.raises(ValueError, match="index\\(\\) without fit needs a reader"):
        QAPipeline().index(PASSAGES)
    plain = QAPipeline(reader=SlidingWindowReader()).index(PASSAGES)
    assert plain.weight_ == 1.0 and len(plain.predict(QUESTIONS[:1])) == 1

    (tmp_path / "p.txt").write_text("\n".join(PASSAGES) + "\n\n")
    assert main(["index", str(tmp_path / "p.txt"), "--output", str(tmp_path / "idx")]) == 0
    capsys.readouterr()
    assert main(["ask", str(tmp_path / "idx"), "Where was Super Bowl 50 played?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("answer: ") and "passage 1: Super Bowl 50 was played" in out
    assert "does not exist" in cli_error(["ask", str(tmp_path / "none"), "q"], capsys)
    assert "the question is empty" in cli_error(["ask", str(tmp_path / "idx"), " "], capsys)
    (tmp_path / "empty.txt").write_text("\n\n")
    assert "holds no passage" in cli_error(["index", str(tmp_path / "empty.txt"), "--output",
                                            str(tmp_path / "x")], capsys)
    # many questions in one process, as JSON lines
    (tmp_path / "q.txt").write_text("Where was Super Bowl 50 played?\nWho won Super Bowl 50?\n")
    assert main(["ask", str(tmp_path / "idx"), "--questions", str(tmp_path / "q.txt"),
                 "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["question"] for r in rows] == ["Where was Super Bowl 50 played?",
                                             "Who won Super Bowl 50?"]
    assert rows == [{"question": q, **a} for q, a in zip(
        [r["question"] for r in rows], QAPipeline.load(tmp_path / "idx").predict(
            [r["question"] for r in rows]), strict=True)]
    assert "give one question, or --questions FILE" in cli_error(
        ["ask", str(tmp_path / "idx")], capsys)
    assert main(["index", str(tmp_path / "p.txt"), "--output", str(tmp_path / "hy"),
                 "--retriever", "hybrid"]) == 0
    assert "(hybrid, reader" in capsys.readouterr().out
    # a fitted reader from its directory: as it is without --train, kept with it
    from hybridnlp.qa import LogisticReader

    reader = LogisticReader(random_state=0, negatives=10).fit(QUESTIONS * 3, PASSAGES,
                                                               ANSWERS * 3,
                                                               passage_index=GOLD * 3)
    reader.save(tmp_path / "reader")
    (tmp_path / "train.json").write_text(json.dumps({"data": [{"title": "t", "paragraphs": [
        {"context": PASSAGES[g], "qas": [{"id": str(i), "question": q, "answers": [
            {"text": a[0], "answer_start": PASSAGES[g].index(a[0])}]}]}
        for i, (q, a, g) in enumerate(zip(QUESTIONS, ANSWERS, GOLD, strict=True))]}]}))
    for extra in ([], ["--train", str(tmp_path / "train.json")]):
        assert main(["index", str(tmp_path / "p.txt"), "--output", str(tmp_path / "lr"),
                     "--reader", str(tmp_path / "reader"), "--top-k", "2", *extra]) == 0
        assert "reader LogisticReader" in capsys.readouterr().out
        kept = QAPipeline.load(tmp_path / "lr").reader_
        assert kept.predict(QUESTIONS, PASSAGES[:4]) == reader.predict(QUESTIONS, PASSAGES[:4])
    assert f"reader directory {str(tmp_path / 'none')!r} does not exist" in cli_error(
        ["index", str(tmp_path / "p.txt"), "--output", str(tmp_path / "x"), "--reader",
         str(tmp_path / "none")], capsys)
    (tmp_path / "empty").mkdir()
    assert "holds no reader: expected a directory a reader's save wrote" in cli_error(
        ["index", str(tmp_path / "p.txt"), "--output", str(tmp_path / "x"), "--reader",
         str(tmp_path / "empty")], capsys)


# ---------------------------------------------------------------------- the neural reader

def _toy_qa(n, seed):
    """"the color of X is Y": the answer follows "is" after the asked-for name."""
    rng = np.random.default_rng(seed)
    names, colours = ["box", "car", "hat", "cup", "pen"], ["red", "blue", "green", "pink"]
    qs, ps, starts, answers = [], [], [], []
    for _ in range(n):
        pairs = list(zip(rng.permutation(names)[:3], rng.choice(colours, 3), strict=True))
        passage = " ".join(f"the colour of the {a} is {c}." for a, c in pairs)
        k = int(rng.integers(3))
        qs.append(f"what is the colour of the {pairs[k][0]}?")
        start = passage.index(f"the {pairs[k][0]} is ") + len(f"the {pairs[k][0]} is ")
        ps.append(passage)
        starts.append(start)
        answers.append(pairs[k][1])
    return qs, ps, starts, answers


def test_windows_label_the_answer_where_the_window_holds_it():
    from hybridnlp.qa import ExtractiveReader

    reader = ExtractiveReader(max_len=16, stride=4, max_question_words=4)
    reader.vocab_ = {}
    passage = " ".join(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                        *(f"w{i}" for i in range(11))])
    rows = reader._windows("which number?", passage, 0, (passage.index("nine"), "nine"))
    assert len(rows) >= 2 and all(len(r["ids"]) <= 16 for r in rows)
    head = 1 + 3 + 1  # <bos> which number ? <sep>
    for r in rows:
        if r["start"]:
            a, b = r["chars"][r["start"]]
            assert passage[a:b] == "nine" and r["start"] == r["end"] >= head
    assert any(r["start"] == 0 for r in rows) and any(r["start"] for r in rows)
    with pytest.raises(ValueError, match=r"questions\[3\] has 5 words, more than "
                                         r"max_question_words=4"):
        reader._windows("a b c d e", passage, 3)


def test_extractive_reader_learns_a_toy_task_and_round_trips(tmp_path):
    from hybridnlp.qa import ExtractiveReader

    qs, ps, starts, answers = _toy_qa(400, 0)
    # 20 epochs: learnt with 1 torch thread and with 2 (at 10, EM was 35 with one, 75 with two)
    reader = ExtractiveReader(preset="tiny", module__n_embd=64, module__n_layer=2,
                              max_epochs=20, random_state=0,
                              optimizer__lr=3e-3, validation_fraction=None).fit(
        qs, ps, answer_dicts(starts, answers))
    assert reader.history_[-1]["train_loss"] < reader.history_[0]["train_loss"]
    tq, tp, _, ta = _toy_qa(60, 1)
    spans = reader.predict(tq, tp)
    texts = [p[s.start:s.end] for p, s in zip(tp, spans, strict=True)]
    assert squad_em_f1(texts, [[a] for a in ta])["exact_match"] > 60
    reader.save(tmp_path / "r")
    loaded = ExtractiveReader.load(tmp_path / "r")
    again = loaded.predict(tq[:10], tp[:10])
    assert [(s.start, s.end) for s in again] == [(s.start, s.end) for s in spans[:10]]
    assert [s.score for s in again] == pytest.approx([s.score for s in spans[:10]], abs=1e-4)
    with pytest.raises(ValueError, match=r"answers\[0\]: 'red' at answer_start=0 does not "
                                         r"match"):
        ExtractiveReader(preset="tiny").fit(qs[:1], ["blue sky"],
                                            [{"text": "red", "answer_start": 0}])


@requires_data_dir
def test_question_answering_config_runs_and_reports(tmp_path):
    from hybridnlp.experiments import ConfigError, load_config, run
    from hybridnlp.persistence import load

    config = {"name": "qa", "task": "question_answering", "output": str(tmp_path),
              "data": {"name": "squad", "test_split": "dev", "limit": 60},
              "models": [{"name": "bm25+sw", "type": "qa_pipeline",
                          "params": {"reader": {"type": "sliding_window_reader"}}}]}
    result = run(config, quiet=True)
    row = result.metrics["models"]["bm25+sw"]
    assert {"f1", "exact_match", "f1_gold", "recall", "by_type", "examples"} <= set(row)
    assert 0 <= row["f1"] <= 100 and row["recall"]["20"] >= row["recall"]["1"]
    report = (result.run_dir / "report.md").read_text()
    assert "| bm25+sw |" in report and "by question type" in report
    from hybridnlp.experiments.run_state import model_dir

    qa = load(model_dir(result.run_dir, "bm25+sw"))
    assert len(qa.predict(["Who won Super Bowl 50?"])) == 1
    with pytest.raises(ConfigError, match="'bm25' is a part of a question-answering pipeline"):
        load_config({**config, "models": [{"type": "bm25"}]})
    with pytest.raises(ConfigError, match="reads a SQuAD-format data set"):
        load_config({**config, "data": {"name": "mr"}})


def test_hybrid_reader_stacks_the_proposals_of_its_readers():
    from hybridnlp.qa import HybridReader, LogisticReader, SlidingWindowReader

    qs, ps, starts, answers = _toy_qa(200, 0)

    hybrid = HybridReader(readers=[("logistic", LogisticReader(random_state=0, negatives=10)),
                           ("sliding", SlidingWindowReader())],  # one fit order for all
                          random_state=0).fit(qs, ps, answer_dicts(starts, answers))
    tq, tp, _, ta = _toy_qa(40, 1)
    spans = hybrid.predict(tq, tp)
    own = {name: r.predict(tq, tp) for name, r in hybrid.readers_}
    for i, s in enumerate(spans):  # every answer is one of the readers' proposals
        assert (s.start, s.end) in {(o[i].start, o[i].end) for o in own.values()}
    f1 = {name: squad_em_f1([p[s.start:s.end] for p, s in zip(tp, o, strict=True)],
                            [[a] for a in ta])["f1"] for name, o in own.items()}
    mine = squad_em_f1([p[s.start:s.end] for p, s in zip(tp, spans, strict=True)],
                       [[a] for a in ta])["f1"]
    assert mine >= min(f1.values())


def test_hybrid_reader_fits_its_stacker_when_the_readers_disagree():
    from hybridnlp.qa import HybridReader, LogisticReader
    from hybridnlp.qa.readers import Span, word_spans

    class _Last(LogisticReader):  # proposes the passage's last word: right 1 time in 3
        def fit(self, *args, **kwargs):
            self.counts_ = {}
            return self

        def predict(self, questions, passages):
            return [Span(*word_spans(p)[-2], 0.0) for p in passages]

    qs, ps, starts, answers = _toy_qa(200, 0)
    hybrid = HybridReader(readers=[("logistic", LogisticReader(random_state=0, negatives=10)),
                           ("last", _Last())], random_state=0).fit(
        qs, ps, answer_dicts(starts, answers))
    assert hybrid.stacker_ is not None and hybrid.held_out_accuracy_[1] < 0.6
    tq, tp, _, ta = _toy_qa(40, 1)
    mine = squad_em_f1([p[s.start:s.end] for p, s in zip(tp, hybrid.predict(tq, tp),
                                                          strict=True)], [[a] for a in ta])
    last = squad_em_f1([p[s.start:s.end] for p, s in zip(tp, _Last().predict(tq, tp),
                                                          strict=True)], [[a] for a in ta])
    assert mine["f1"] > last["f1"]


def test_hybrid_reader_dense_and_hybrid_retrievers_save_and_load(tmp_path):
    from hybridnlp.qa import HybridReader, LogisticReader
    from hybridnlp.qa.readers import load_reader, save_reader
    from hybridnlp.qa.retriever_fusion import load_retriever

    qs, ps, starts, answers = _toy_qa(200, 0)
    hybrid = HybridReader(readers=[("lexical", LogisticReader(random_state=0, negatives=10)),
                           ("window", LogisticReader(lexical=False, random_state=0,
                                                     negatives=10))],
                          random_state=0).fit(qs, ps, answer_dicts(starts, answers))
    save_reader(hybrid, tmp_path / "reader")
    loaded = load_reader(tmp_path / "reader")
    tq, tp, _, _ = _toy_qa(40, 1)
    assert isinstance(loaded, HybridReader) and [n for n, _ in loaded.readers_] == [
        "lexical", "window"]
    assert loaded.predict(tq, tp) == hybrid.predict(tq, tp)

    def dense():
        return DenseRetriever(vector_size=16, epochs=5, random_state=0)

    questions = ["Who won Super Bowl 50?", "Where is Santa Clara?", "Who performed at halftime?",
                 "What was the Panthers record?"]
    retrievers = {
        "dense": dense().fit(PASSAGES, ids=list("abcde")),
        "rrf": HybridRetriever(retrievers=[("bm25", BM25Retriever()),
                                           ("dense", dense())]).fit(PASSAGES),
        "learned": HybridRetriever(retrievers=[("bm25", BM25Retriever()), ("dense", dense())],
                                   fusion="learned").fit(PASSAGES, questions=questions,
                                                         gold=[0, 4, 2, 3]),
    }
    q = ["Santa Clara", "Broncos Panthers score"]
    for name, r in retrievers.items():
        r.save(tmp_path / name)
        back = load_retriever(tmp_path / name)
        assert type(back) is type(r), name
        np.testing.assert_allclose(back.score_passages(q), r.score_passages(q), rtol=1e-6)
        assert (back.search(q, k=3)[0] == r.search(q, k=3)[0]).all(), name
    assert list(load_retriever(tmp_path / "dense").search(q, k=1)[0][:, 0]) == list(
        retrievers["dense"].search(q, k=1)[0][:, 0])  # the ids, not positions
    (tmp_path / "learned" / "parts" / "1" / "index.npz").write_bytes(b"not an array")
    with pytest.raises(ValueError, match="index file .*index.npz' is missing or corrupt"):
        load_retriever(tmp_path / "learned")


def test_every_reader_and_the_pipeline_share_one_fit_order_and_the_old_orders_warn():
    """fit(questions, passages, answers, *, passage_index=None) everywhere: the same model
    from each question's passage or from the collection and passage_index, from answer texts
    or SQuAD dicts; the earlier orders give the same model for one release, with a warning."""
    import inspect

    from hybridnlp.qa import (
        ExtractiveReader,
        HybridReader,
        LogisticReader,
        QAPipeline,
        SlidingWindowReader,
    )

    for cls in (SlidingWindowReader, LogisticReader, ExtractiveReader, HybridReader, QAPipeline):
        params = list(inspect.signature(cls.fit).parameters)
        assert params[1:4] == ["questions", "passages", "answers"], cls
        assert "passage_index" in params and "_learns_from_answers" not in cls.fit.__code__.co_names
    qs, gold_passages = QUESTIONS * 5, [PASSAGES[g] for g in GOLD] * 5
    texts = [a[0] for a in ANSWERS] * 5
    dicts = [{"text": t, "answer_start": p.find(t)} for t, p in zip(texts, gold_passages,
                                                                    strict=True)]
    reader = LogisticReader(random_state=0, negatives=10)
    by_passage = clone(reader).fit(qs, gold_passages, texts)
    by_index = clone(reader).fit(qs, PASSAGES, dicts, passage_index=GOLD * 5)
    with pytest.warns(FutureWarning, match=r"^LogisticReader.fit\(questions, passages, "
                                           r"answer_starts, answers\) is deprecated"):
        old = clone(reader).fit(qs, gold_passages, [d["answer_start"] for d in dicts], texts)
    expected = by_passage.predict(QUESTIONS, PASSAGES[:4])
    assert by_index.predict(QUESTIONS, PASSAGES[:4]) == expected
    assert old.predict(QUESTIONS, PASSAGES[:4]) == expected
    with pytest.warns(FutureWarning, match=r"^SlidingWindowReader.fit\(passages\) is "
                                           r"deprecated"):
        counted = SlidingWindowReader().fit(PASSAGES)
    assert counted.counts_ == SlidingWindowReader().fit(None, PASSAGES).counts_
    pipeline = QAPipeline(top_k=2, random_state=0)
    new = clone(pipeline).fit(QUESTIONS * 3, PASSAGES, ANSWERS * 3, passage_index=GOLD * 3)
    with pytest.warns(FutureWarning, match=r"^QAPipeline.fit\(questions, answers, passages, "
                                           r"passage_index\) is deprecated"):
        old = clone(pipeline).fit(QUESTIONS * 3, ANSWERS * 3, PASSAGES, GOLD * 3)
    assert old.predict(QUESTIONS) == new.predict(QUESTIONS) and old.weight_ == new.weight_
    with pytest.raises(ValueError, match=r"^got 4 questions and 5 passages; pass the passage "
                                         r"of each question, or the collection and "
                                         r"passage_index.$"):
        LogisticReader().fit(QUESTIONS, PASSAGES, ANSWERS)


def test_readers_split_words_with_the_shared_script_aware_splitter_and_keep_offsets(
        monkeypatch):
    from hybridnlp.qa import SlidingWindowReader
    from hybridnlp.qa.readers import word_spans
    from hybridnlp.text import WordTokenizer, segmenters

    text = "第50届超级碗由丹佛野马队赢得。 The 15-1 Panthers lost."
    spans = word_spans(text)
    assert [text[a:b] for a, b in spans][:4] == ["第", "50", "届", "超"]  # not one clause
    assert [text[a:b] for a, b in spans][-4:] == ["15-1", "Panthers", "lost", "."]
    passage = "超级碗五十由丹佛野马队赢得冠军。"
    reader = SlidingWindowReader(max_answer_words=4).fit(None, [passage])
    span = reader.predict(["谁赢得冠军?"], [passage])[0]
    assert 0 < span.end - span.start <= 4  # a few characters, not the whole clause
    monkeypatch.setitem(segmenters._REGISTRY, "halves",  # registered for this test only
                        lambda t: [t[:len(t) // 2], t[len(t) // 2:]])
    assert WordTokenizer(segmenter="halves").spans("abcdef") == [(0, 3), (3, 6)]


def test_chinese_answers_score_by_character_as_cmrc_2018():
    """CMRC 2018's F1 (longest common run of characters, English words whole) and EM, chosen
    per question where the reference is Chinese; SQuAD's elsewhere."""
    from hybridnlp.qa import answer_f1, cmrc_exact_match, cmrc_f1, squad_em_f1

    assert cmrc_f1("北京", "北京市") == pytest.approx(0.8)
    assert cmrc_f1("北京市", "上海") == 0.0
    # longest common *run*: 北京 and 京北 share two characters but a run of one
    assert cmrc_f1("北京", "京北") == pytest.approx(0.5)
    assert cmrc_f1("2019年3.5亿美元", "3.5亿") == pytest.approx(0.5)  # 3.5 is one segment
    assert cmrc_exact_match("光荣和ω-force。", "光荣和ω-force") == 1.0
    assert squad_em_f1(["北京"], [["北京市", "北京"]]) == {"exact_match": 100.0, "f1": 100.0}
    assert squad_em_f1(["北京"], [["北京市"]])["f1"] == pytest.approx(80.0)
    assert squad_em_f1(["北京"], [["北京市"]], language="en")["f1"] == 0.0
    assert answer_f1("the Denver Broncos", "Denver Broncos") == 1.0
    with pytest.raises(ValueError, match=r"language='fr' is not one of auto, en, zh\."):
        squad_em_f1(["a"], [["a"]], language="fr")


def test_logistic_reader_reads_chinese_spans_of_characters():
    """The shared splitter makes each Chinese character a word, so an answer is any run of
    characters inside a clause; max_answer_words="auto" follows the training answers."""
    from hybridnlp.qa import LogisticReader, question_type

    rng = np.random.default_rng(0)
    cities = ["北京市", "上海市", "广州市", "深圳市", "南京市", "杭州市"]
    qs, ps, ans = [], [], []
    for i in range(40):
        city, other = rng.choice(len(cities), 2, replace=False)
        p = f"他在{cities[city]}出生，后来搬到{cities[other]}工作。"
        qs.append("他在哪里出生？" if i % 2 else "他后来在哪里工作？")
        ans.append(cities[city] if i % 2 else cities[other])
        ps.append(p)
    assert question_type(qs[1]) == "where"
    reader = LogisticReader(random_state=0).fit(qs[:30], ps[:30], ans[:30])
    assert reader.max_answer_words_ == 3
    spans = reader.predict(qs[30:], ps[30:])
    got = [p[s.start:s.end] for p, s in zip(ps[30:], spans, strict=True)]
    assert sum(g == a for g, a in zip(got, ans[30:], strict=True)) >= 8


@pytest.mark.parametrize("wide", [False, True])
def test_top_k_search_ranks_as_a_full_sort_does(monkeypatch, wide):
    """search's partition picks the same passages in the same order as sorting every score,
    ties (many zeros) in collection order; wide rows (row by row, candidates above a strided
    sample's k-th best) too."""
    from hybridnlp.qa import _ranking
    from hybridnlp.qa._ranking import ranking, top_k

    monkeypatch.setattr(_ranking, "WIDE", 20 if wide else 10**6)
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.choice([40, 3000]))
        scores = rng.integers(0, 4, (6, n)).astype(np.float32)
        scores *= rng.random((6, n)) < 0.3  # mostly zeros: ties at the k-th
        scores += (rng.random() < 0.5) * rng.random((6, n)).astype(np.float32)
        k = int(rng.integers(1, 45))
        np.testing.assert_array_equal(top_k(scores, k), ranking(scores)[:, :k])


@pytest.mark.parametrize("make", [BM25Retriever, TfidfRetriever])
def test_sparse_scores_equal_the_matrix_product(monkeypatch, make):
    """Scores summed from the term-major postings (used over many passages) are the
    query-passage matrix product's."""
    from hybridnlp.qa import _ranking

    monkeypatch.setattr(_ranking, "WIDE", 1)
    r = make().fit(PASSAGES)
    queries = [*QUESTIONS, "zzz unknown words only", "the the of"]
    want = (r._query_matrix(queries) @ r.matrix_.T).toarray().astype(np.float32)
    np.testing.assert_allclose(r.score_passages(queries), want, rtol=1e-6, atol=1e-7)


def test_the_ranker_learns_the_order_within_groups_that_no_global_threshold_gives():
    """Each group's right row has the group's highest first column, but groups sit at random
    levels, so no threshold over all rows tells right from wrong: the conditional logit ranks
    every group's right row first; scaling is folded into the weights; groups that teach no
    ranking (one row, or none right) are left out, and with none left there is no ranker."""
    from hybridnlp.qa._linear import conditional_logit, ranker

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), 4)
    level = rng.normal(0, 10, 60)[groups]
    right = np.tile([False, False, False, True], 60)
    X = np.column_stack([level + right + rng.normal(0, 0.1, 240), rng.normal(0, 5, 240)])
    gain = right.astype(float)
    model = ranker(X, groups, gain)
    decision = model.decision_function(X).reshape(60, 4)
    assert (decision.argmax(axis=1) == 3).all()
    mu, sd = X.mean(axis=0), X.std(axis=0)
    scaled = conditional_logit((X - mu) / sd, groups, np.arange(60) * 4 + 3, C=1.0)
    np.testing.assert_allclose(decision.ravel(), scaled.decision_function((X - mu) / sd),
                               atol=1e-6)
    # a lone row and a group with nothing right are left out: the ranking holds
    more = np.vstack([X, [[50.0, 0.0]], [[60.0, 0.0], [61.0, 1.0]]])
    with_more = ranker(more, np.append(groups, [60, 61, 61]), np.append(gain, [1.0, 0.2, 0.4]))
    assert (with_more.decision_function(X).reshape(60, 4).argmax(axis=1) == 3).all()
    assert ranker(X[:8], groups[:8], np.zeros(8)) is None


def test_the_learned_combiner_is_chosen_out_of_fold_and_saved(tmp_path):
    """combine="learned" keeps a conditional-logit combiner over the candidates' reader,
    retriever and question-cover features; it answers from the saved pipeline as before."""
    from hybridnlp.qa import QAPipeline

    qa = QAPipeline(top_k=2, combine="learned", random_state=0).fit(
        QUESTIONS * 3, PASSAGES, ANSWERS * 3, passage_index=GOLD * 3)
    assert qa.combine_ == "learned" and qa.combiner_.coef_.shape == (1, 10)
    assert set(qa.combine_scores_) == {"weight", "learned"}
    qa.save(tmp_path / "qa")
    loaded = QAPipeline.load(tmp_path / "qa")
    assert loaded.combine_ == "learned" and loaded.predict(QUESTIONS) == qa.predict(QUESTIONS)
    weighted = QAPipeline(top_k=2, weight=1.0, random_state=0).fit(
        QUESTIONS * 3, PASSAGES, ANSWERS * 3, passage_index=GOLD * 3)
    assert weighted.combine_ == "weight" and weighted.combiner_ is None
    with pytest.raises(ValueError, match=r"combine='mean'"):
        QAPipeline(combine="mean").fit(QUESTIONS, PASSAGES, ANSWERS, passage_index=GOLD)
