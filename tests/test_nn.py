import math
import re

import pytest
import torch
import torch.nn.functional as F

from hybridnlp.nn import EncoderConfig, SequenceClassifier, TransformerEncoder
from hybridnlp.nn.layers import SelfAttention


def tiny(**kw):
    return EncoderConfig.from_preset("tiny", vocab_size=50, max_len=16, **kw)


def test_presets_and_config_errors():
    assert EncoderConfig.from_preset("small").n_embd == 128
    assert EncoderConfig.from_preset("small", n_layer=3).n_layer == 3
    with pytest.raises(ValueError, match=re.escape(
            "unknown preset='smal'; choose one of tiny, small, base, bert-base. "
            "Did you mean 'small'?")):
        EncoderConfig.from_preset("smal")
    with pytest.raises(ValueError, match=re.escape(
            "EncoderConfig has no field 'n_layers'. Did you mean 'n_layer'?")):
        EncoderConfig.from_dict({"n_layers": 2})
    with pytest.raises(ValueError, match=r"^n_embd=30 is not divisible by n_head=4; pick n_head"):
        EncoderConfig(n_embd=30, n_head=4)
    assert EncoderConfig.from_dict(tiny().to_dict()) == tiny()


def test_attention_matches_manual_computation():
    torch.manual_seed(0)
    attn = SelfAttention(n_embd=8, n_head=2, attn_dropout=0.0, dropout=0.0).eval()
    x = torch.randn(3, 5, 8)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    got = attn(x, mask[:, None, None, :])
    q, k, v = attn.qkv(x).split(8, dim=2)
    q, k, v = (t.view(3, 5, 2, 4).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
    scores = q @ k.transpose(-2, -1) / math.sqrt(4)  # (B, nh, T, T)
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    y = (scores.softmax(-1) @ v).transpose(1, 2).reshape(3, 5, 8)
    assert torch.allclose(got, attn.proj(y), atol=1e-6)


def test_cross_attention_matches_torch_multihead_attention():
    from hybridnlp.nn import Attention

    torch.manual_seed(0)
    attn = Attention(n_embd=8, n_head=2, attn_dropout=0.0, dropout=0.0, cross=True).eval()
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    with torch.no_grad():  # the same weights: in_proj is q, then k and v
        ref.in_proj_weight.copy_(torch.cat([attn.q.weight, attn.kv.weight]))
        ref.in_proj_bias.copy_(torch.cat([attn.q.bias, attn.kv.bias]))
        ref.out_proj.weight.copy_(attn.proj.weight)
        ref.out_proj.bias.copy_(attn.proj.bias)
    x, memory = torch.randn(3, 4, 8), torch.randn(3, 6, 8)
    real = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5], dtype=torch.bool)
    got = attn(x, real[:, None, None, :], memory=memory)
    expected, _ = ref(x, memory, memory, key_padding_mask=~real)
    assert torch.allclose(got, expected, atol=1e-6)
    with pytest.raises(ValueError, match="^cross-attention needs memory"):
        attn(x)


@pytest.mark.parametrize("case", ["padding", "no key to see", "causal",
                                  "causal over a longer past"])
def test_bf16_training_on_cpu_attends_by_products_as_sdpa_does(monkeypatch, case):
    """Short keys in bf16 training on CPU take the matrix-product path (the flash kernel's
    backward is slow there); its output and gradients are SDPA's."""
    from hybridnlp.nn import Attention, attention
    from hybridnlp.nn.attention import _by_products

    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 5 if i == 0 else 7, 8) for i in range(3))
    mask, causal = None, False
    if case == "padding":
        mask = torch.tensor([[1] * 7, [1] * 3 + [0] * 4], dtype=torch.bool)[:, None, None, :]
    elif case == "no key to see":  # SDPA gives zeros, not NaN
        mask = torch.tensor([[1] * 7, [0] * 7], dtype=torch.bool)[:, None, None, :]
    elif case == "causal":
        q, causal = q[:, :, :5], True
        k, v = k[:, :, :5], v[:, :, :5]
    else:
        mask = torch.ones(5, 7, dtype=torch.bool).tril(2)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    assert torch.allclose(_by_products(q, k, v, mask, causal), want, atol=1e-6)

    attn = Attention(n_embd=16, n_head=2, attn_dropout=0.0, dropout=0.0, causal=True).train()
    x = torch.randn(3, 9, 16, requires_grad=True)
    runs, sdpa_calls, sdpa = [], [], F.scaled_dot_product_attention
    monkeypatch.setattr(F, "scaled_dot_product_attention",
                        lambda *a, **kw: sdpa_calls.append(1) or sdpa(*a, **kw))
    for limit in (128, 0):  # 0: every length through SDPA
        monkeypatch.setattr(attention, "_PRODUCTS_MAX_LEN", limit)
        attn.zero_grad()
        x.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = attn(x)
        y.float().square().sum().backward()
        runs.append((y.float(), x.grad.clone(), attn.qkv.weight.grad.clone()))
        assert len(sdpa_calls) == (0 if limit else 1)
    for a, b in zip(*runs, strict=True):  # bf16: about three significant digits
        assert ((a - b).norm() / b.norm()).item() < 2e-2


def test_one_attention_serves_the_encoder_and_the_gpt():
    from hybridnlp.nn import GPT, Attention, GPTConfig

    enc = TransformerEncoder(tiny(n_layer=1))
    gpt = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=11))
    kinds = {type(m) for model in (enc, gpt) for m in model.modules()
             if "Attention" in type(m).__name__}
    assert kinds == {Attention}
    assert [m.causal for m in gpt.modules() if isinstance(m, Attention)] == [True] * \
        gpt.config.n_layer


def test_padding_does_not_change_the_encoding():
    torch.manual_seed(0)
    enc = TransformerEncoder(tiny(n_layer=2)).eval()
    seq = torch.tensor([[1, 7, 9, 11]])  # (1, 4)
    padded = torch.tensor([[1, 7, 9, 11, 0, 0, 0], [1, 5, 0, 0, 0, 0, 0]])  # (2, 7)
    mask = padded != 0
    alone = enc(seq)  # (1, 4, C)
    batch = enc(padded, mask)  # (2, 7, C)
    assert torch.allclose(batch[0, :4], alone[0], atol=1e-5)
    for how in ("mean", "max"):
        assert torch.allclose(enc.pool(batch, mask, how)[0], enc.pool(alone, None, how)[0],
                              atol=1e-5)
    assert torch.equal(enc.pool(batch, mask, "cls"), batch[:, 0])


def test_classifier_forward_loss_and_extra_features():
    torch.manual_seed(0)
    model = SequenceClassifier(tiny(n_classes=3, n_extra=4)).eval()
    idx = torch.randint(5, 50, (6, 9))
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    feats = torch.randn(6, 4)
    logits, loss = model(idx, features=feats, targets=targets)
    assert logits.shape == (6, 3)
    assert torch.allclose(loss, F.cross_entropy(logits, targets))
    assert model(idx, features=feats)[1] is None
    with pytest.raises(ValueError, match=r"^this head expects 4 extra features per example"):
        model(idx)
    model.class_weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
    _, weighted = model(idx, features=feats, targets=targets)
    assert torch.allclose(weighted, F.cross_entropy(logits, targets, weight=model.class_weight))


def test_too_long_sequence():
    enc = TransformerEncoder(tiny())
    message = ("sequence length 17 exceeds max_len=16; truncate the input or build the model "
               "with a larger max_len.")
    with pytest.raises(ValueError, match=re.escape(message)):
        enc(torch.zeros(1, 17, dtype=torch.long))
