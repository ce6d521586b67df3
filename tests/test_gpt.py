"""GPT module, KV cache, generation engine: shapes, cache parity, masks, sampling, beams."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from hybridnlp.lm import Stepper, beam_search, process_logits, sample
from hybridnlp.lm.decoding import _COMPILED, decode_step
from hybridnlp.nn import GPT, GPTConfig, KVCache


def nano(positions="learned", vocab_size=11, block_size=16, seed=0, **kw):
    torch.manual_seed(seed)
    config = GPTConfig.from_preset("gpt-nano", vocab_size=vocab_size, block_size=block_size,
                                   positions=positions, **kw)
    return GPT(config).eval()


def test_config_errors_name_the_fix():
    with pytest.raises(ValueError, match="n_embd=50 is not divisible by n_head=3"):
        GPTConfig(n_embd=50, n_head=3)
    with pytest.raises(ValueError, match="positions='alibi' is not allowed"):
        GPTConfig(positions="alibi")
    with pytest.raises(ValueError, match="unknown GPT preset 'babby'.*Did you mean 'baby'"):
        GPTConfig.from_preset("babby")
    with pytest.raises(ValueError, match="GPTConfig has no field 'n_layers'. Did you mean "
                                         "'n_layer'"):
        GPTConfig.from_dict({"n_layers": 2})
    with pytest.raises(ValueError, match="block_size=0 must be a positive integer"):
        GPTConfig(block_size=0)


def test_forward_shapes_loss_and_tied_weights():
    model = nano()
    idx = torch.randint(0, 11, (3, 10))
    logits, loss = model(idx)
    assert logits.shape == (3, 10, 11) and loss is None
    targets = idx.clone()
    targets[:, :5] = -1  # ignored
    logits, loss = model(idx, targets)
    expected = F.cross_entropy(logits[:, 5:].reshape(-1, 11), idx[:, 5:].reshape(-1))
    assert torch.allclose(loss, expected)
    assert model.lm_head.weight is model.wte.weight
    with pytest.raises(ValueError, match="sequence of 17 tokens is longer than the context "
                                         "window \\(block_size=16\\)"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_flops_per_token_formula():
    model = nano()
    c = model.config
    n = sum(p.numel() for p in model.parameters()) - model.wpe.weight.numel()
    assert model.num_params() == n
    assert model.flops_per_token() == 6 * n + 12 * c.n_layer * c.n_head * c.head_size * 16
    assert model.estimate_mfu(1000.0, 1e12) == pytest.approx(model.flops_per_token() * 1e-9)


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_kv_cache_matches_full_forward(positions):
    model = nano(positions)
    idx = torch.randint(0, 11, (2, 14))
    full, _ = model(idx)
    cache = KVCache(model.config, 2)
    first, _ = model(idx[:, :6], kv_cache=cache)  # prefill
    assert torch.allclose(first[:, -1], full[:, 5], atol=1e-5)
    middle, _ = model(idx[:, 6:9], kv_cache=cache)  # a chunk of 3 after the prefill
    assert torch.allclose(middle[:, -1], full[:, 8], atol=1e-5)
    for t in range(9, 14):
        step, _ = model(idx[:, t:t + 1], kv_cache=cache)
        assert torch.allclose(step[:, 0], full[:, t], atol=1e-5)
    assert cache.pos == 14
    with pytest.raises(ValueError, match="sequence of 17 tokens is longer than the context"):
        model(idx[:, :3], kv_cache=cache)
    small = KVCache(model.config, 2, max_len=4)
    with pytest.raises(ValueError, match="KV cache is full: 6 positions needed, 4 allocated"):
        model(idx[:, :6], kv_cache=small)


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_left_padding_with_key_mask_matches_the_prompt_alone(positions):
    model = nano(positions)
    short = torch.randint(5, 11, (1, 4))
    alone, _ = model(short)
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), short], 1)
    mask = torch.tensor([[False] * 3 + [True] * 4])
    pos = (mask.long().cumsum(1) - 1).clamp(min=0)
    out, _ = model(padded, positions=pos, key_mask=mask)
    assert torch.allclose(out[:, 3:], alone, atol=1e-5)


def _greedy(model, prompt, n, use_cache, key_mask=None, compile=False):
    B, T = prompt.shape
    seq = torch.zeros(B, T + n, dtype=torch.long)
    seq[:, :T] = prompt
    stepper = Stepper(model, B, use_cache=use_cache, key_mask=key_mask, compile=compile)
    list(sample(stepper.logits, seq, T, n, do_sample=False))
    return seq[:, T:]


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_cached_and_uncached_decoding_give_identical_tokens_past_the_window(positions):
    model = nano(positions, block_size=8, vocab_size=50, seed=3)
    prompt = torch.randint(5, 50, (3, 5))
    cached = _greedy(model, prompt, 30, use_cache=True)  # 35 tokens through an 8-token window
    uncached = _greedy(model, prompt, 30, use_cache=False)
    assert torch.equal(cached, uncached)

    def sampled(use_cache):
        seq = torch.zeros(3, 35, dtype=torch.long)
        seq[:, :5] = prompt
        st = Stepper(model, 3, use_cache=use_cache)
        list(sample(st.logits, seq, 5, 30, generator=torch.Generator().manual_seed(0)))
        return seq

    assert torch.equal(sampled(True), sampled(False))
    assert len(set(sampled(True)[0].tolist())) > 5


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_static_decode_step_matches_the_cached_forward(positions):
    # decode_step is what compile=True compiles: static shapes, the whole cache masked
    model = nano(positions, block_size=8, vocab_size=50, seed=4)
    prompt = torch.randint(5, 50, (3, 5))
    with torch.no_grad():
        a, b = KVCache(model.config, 3), KVCache(model.config, 3)
        model(prompt, kv_cache=a)
        model(prompt, kv_cache=b)
        nxt = torch.randint(5, 50, (3, 1))
        ref = model(nxt, kv_cache=a)[0][:, -1]
        out = decode_step(model, nxt, torch.tensor(5), b.k, b.v)
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(a.k[:, :, :, :6], b.k[:, :, :, :6], atol=1e-6)
    # through the Stepper (dynamo's eager backend: the traced graph, no code generation),
    # past the window, plain and with left-padded prompts
    assert torch.equal(_greedy(model, prompt, 30, True, compile={"backend": "eager"}),
                       _greedy(model, prompt, 30, True))
    mask = torch.ones(3, 35, dtype=torch.bool)
    mask[1, :2] = False
    padded = prompt.clone()
    padded[1, :2] = 0
    assert torch.equal(_greedy(model, padded, 12, True, mask, compile={"backend": "eager"}),
                       _greedy(model, padded, 12, True, mask))
    with pytest.raises(ValueError, match="compile=True compiles the cached decoding step"):
        Stepper(model, 3, use_cache=False, compile=True)


def test_compiled_decoding_with_inductor_gives_the_same_logits():
    model = nano(block_size=8, vocab_size=50, seed=5)
    seq = torch.randint(5, 50, (2, 14))  # teacher-forced: the same tokens for both
    runs = []
    for compile in (False, True):
        st = Stepper(model, 2, compile=compile)
        with torch.no_grad():  # positions 4..13: the window slides once, past 8
            runs.append(torch.stack([st.logits(seq, t) for t in range(4, 14)]))
    assert torch.allclose(runs[0], runs[1], atol=1e-4)
    assert list(_COMPILED[model]) == ["[('options', {'cpp_wrapper': True})]"]  # CPU default


def test_process_logits_top_k_top_p_penalty_and_suppress():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    top2 = process_logits(logits, top_k=2)
    assert torch.isinf(top2[0, 2:]).all() and torch.isfinite(top2[0, :2]).all()
    nucleus = process_logits(logits, top_p=0.7)  # 0.5 < 0.7, then 0.8 >= 0.7: keep two
    assert torch.isfinite(nucleus[0, :2]).all() and torch.isinf(nucleus[0, 2:]).all()
    assert torch.isfinite(process_logits(logits, top_p=0.4)[0]).sum() == 1
    x = torch.tensor([[2.0, -2.0, 1.0]])
    pen = process_logits(x, torch.tensor([[0, 1]]), repetition_penalty=2.0)
    assert pen.tolist() == [[1.0, -4.0, 1.0]]
    assert torch.isinf(process_logits(x, suppress=[2])[0, 2])
    assert torch.allclose(process_logits(x, temperature=0.5), x * 2)
    assert x.tolist() == [[2.0, -2.0, 1.0]]  # the input is never changed in place
    assert process_logits(x, torch.tensor([[0]]), top_k=3, top_p=1.0) is x  # nothing to do


def test_sampling_is_seeded_and_respects_eos():
    model = nano(vocab_size=30, seed=1)
    prompt = torch.randint(5, 30, (2, 3))

    def run(seed):
        seq = torch.zeros(2, 23, dtype=torch.long)
        seq[:, :3] = prompt
        st = Stepper(model, 2)
        g = torch.Generator().manual_seed(seed)
        list(sample(st.logits, seq, 3, 20, generator=g, temperature=1.5))
        return seq

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))
    greedy_first = _greedy(model, prompt[:1], 1, True)[0, 0].item()
    seq = torch.zeros(1, 13, dtype=torch.long)
    seq[:, :3] = prompt[:1]
    st = Stepper(model, 1)
    out = list(sample(st.logits, seq, 3, 10, do_sample=False, eos_id=greedy_first))
    assert len(out) == 1  # the first token was eos: generation ends
    st = Stepper(model, 1)
    out = list(sample(st.logits, seq, 3, 10, do_sample=False, eos_id=greedy_first,
                      min_new_tokens=4))
    assert len(out) >= 4 and greedy_first not in [int(c[0]) for c in out[:4]]


def test_beam_search_is_exact_when_the_beam_holds_every_sequence():
    model = nano(vocab_size=6, seed=2)
    prompt = torch.tensor([1, 4, 3])
    found = beam_search(model, prompt, 2, num_beams=36, length_penalty=0.0)
    def log_prob(ys):
        total = 0.0
        for i in range(len(ys)):
            ctx = torch.cat([prompt, torch.tensor(ys[:i], dtype=torch.long)])[None]
            total += F.log_softmax(model(ctx)[0][0, -1], -1)[ys[i]].item()
        return total

    best = max(itertools.product(range(6), repeat=2), key=log_prob)
    assert found[0][0] == list(best)
    one = beam_search(model, prompt, 5, num_beams=1)[0][0]
    assert one == _greedy(model, prompt[None], 5, True)[0].tolist()
    uncached = beam_search(model, prompt, 5, num_beams=3, use_cache=False)
    assert beam_search(model, prompt, 5, num_beams=3)[0][0] == uncached[0][0]


# ---------------------------------------------------------------------- adaptive softmax


def test_adaptive_softmax_is_a_distribution_and_its_loss_the_mean_nll():
    model = nano(vocab_size=60, adaptive_cutoffs=[8, 24])
    head = model.lm_head
    assert model.wte is None and model.adaptive  # the input vectors are the softmax's
    idx = torch.randint(0, 60, (3, 12))
    log_probs, loss = model(idx)
    assert log_probs.shape == (3, 12, 60) and loss is None
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 12), atol=1e-5)
    targets = torch.randint(0, 60, (3, 12))
    targets[:, :4] = -1  # ignored, as the full softmax's loss ignores them
    logits, loss = model(idx, targets)
    assert logits is None  # the loss never forms the full distribution
    expected = F.nll_loss(log_probs[:, 4:].reshape(-1, 60), targets[:, 4:].reshape(-1))
    assert torch.allclose(loss, expected, atol=1e-5)
    # a frequent word's vector is its head row; a rarer one's its cluster row projected up
    words = torch.tensor([[3, 10, 30]])
    vectors = model.embed(words)[0]
    assert torch.equal(vectors[0], head.head.weight[3])
    proj, rows = head.tail[0]
    assert torch.allclose(vectors[1], rows.weight[10 - 8] @ proj.weight)
    proj, rows = head.tail[1]
    assert torch.allclose(vectors[2], rows.weight[30 - 24] @ proj.weight)
    # both ends train one matrix: a rare input word gets a gradient through its row
    model.train()
    model(words, torch.tensor([[1, 2, 3]]))[1].backward()
    assert rows.weight.grad[30 - 24].abs().sum() > 0
    # words of every cluster start at the size of GPT-2's embeddings
    all_vectors = model.embed(torch.arange(60)[None])[0].detach()
    for lo, hi in ((0, 8), (8, 24), (24, 60)):
        assert 0.01 < float(all_vectors[lo:hi].std()) < 0.04


def test_adaptive_softmax_decodes_as_its_full_forward():
    model = nano(vocab_size=50, block_size=8, seed=5, adaptive_cutoffs=[6, 20])
    idx = torch.randint(0, 50, (2, 8))
    full, _ = model(idx)
    cache = KVCache(model.config, 2)
    model(idx[:, :5], kv_cache=cache)
    step, _ = model(idx[:, 5:6], kv_cache=cache)
    assert torch.allclose(step[:, 0], full[:, 5], atol=1e-5)
    prompt = torch.randint(0, 50, (3, 5))
    assert torch.equal(_greedy(model, prompt, 20, True), _greedy(model, prompt, 20, False))


def test_adaptive_cutoffs_auto_and_errors():
    from hybridnlp.nn.adaptive import auto_cutoffs

    assert auto_cutoffs(65) == [] and auto_cutoffs(19_999) == []
    assert auto_cutoffs(33_281) == [2000, 10000]
    assert auto_cutoffs(60_000) == [2000, 10000, 50000]
    assert GPTConfig(vocab_size=33_281, adaptive_cutoffs="auto").cutoffs == [2000, 10000]
    assert not nano(vocab_size=50, adaptive_cutoffs="auto").adaptive  # a small vocabulary
    with pytest.raises(ValueError, match=r"adaptive_cutoffs=\[10, 60\] must all be below "
                                         r"vocab_size=50; drop the last ones or use 'auto'"):
        GPTConfig(vocab_size=50, adaptive_cutoffs=[10, 60])
    with pytest.raises(ValueError, match=r"adaptive_cutoffs=\[10, 5\] must be 'auto', None or "
                                         r"increasing positive word counts"):
        GPTConfig(vocab_size=50, adaptive_cutoffs=[10, 5])
    with pytest.raises(ValueError, match="adaptive_div=0.5 must be a number >= 1"):
        GPTConfig(adaptive_div=0.5)
