"""The CUDA variable-length attention path, tested on the CPU where it can be.

No GPU runs here: the kernel choice is a pure function, and the call into
``torch.nn.attention.varlen.varlen_attn`` is checked against a stand-in that follows the
kernel's documented contract (q, k, v [T, heads, d]; cumulative offsets [B + 1] int32; the
longest sequence), so the arguments our code passes and the way it reads the result are
tested; the kernel itself only on a GPU (``test_fast_paths.py``, skipped without CUDA).
"""
import pytest
import torch
import torch.nn.functional as F

from msvit_mm.ops import attention
from msvit_mm.ops.attention import (cumulative_seqlens, packed_attention,
                                    varlen_kernel_applies, varlen_kernel_supports)
from tests.helpers import assert_close_scaled

from .reference import packed_attention_reference


def test_cumulative_seqlens():
    cu = cumulative_seqlens([3, 1, 4], torch.device('cpu'))
    assert cu.dtype == torch.int32 and cu.tolist() == [0, 3, 4, 8]
    assert cumulative_seqlens([], torch.device('cpu')).tolist() == [0]


@pytest.mark.parametrize('device,dtype,dropout,available,expected', [
    ('cuda', torch.float16, 0., True, True),
    ('cuda', torch.bfloat16, 0., True, True),
    ('cuda', torch.float32, 0., True, False),   # the kernel is half precision only
    ('cuda', torch.float16, 0.1, True, False),  # no dropout in the kernel
    ('cuda', torch.float16, 0., False, False),  # torch without the kernel: fallback
    ('cpu', torch.float16, 0., True, False),
])
def test_kernel_choice(device, dtype, dropout, available, expected):
    assert varlen_kernel_supports(device, dtype, dropout, available) is expected


class FakeVarlen:
    """``varlen_attn``'s contract, computed per sequence with SDPA; records its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, q, k, v, cu_q, cu_k, max_q, max_k):
        self.calls.append(dict(shape=tuple(q.shape), cu_q=cu_q.clone(), cu_k=cu_k.clone(),
                               max_q=max_q, max_k=max_k))
        assert q.dim() == 3 and q.shape == k.shape == v.shape and cu_q.dtype == torch.int32
        out = torch.empty_like(q)
        bounds = cu_q.tolist()
        for start, end in zip(bounds[:-1], bounds[1:]):
            qs, ks, vs = (t[start:end].transpose(0, 1) for t in (q, k, v))  # heads, n, d
            out[start:end] = F.scaled_dot_product_attention(qs, ks, vs).transpose(0, 1)
        return out


@pytest.fixture
def fake_kernel(monkeypatch):
    fake = FakeVarlen()
    monkeypatch.setattr(attention, 'varlen_attn', fake)
    monkeypatch.setattr(attention, 'varlen_kernel_applies', lambda x, p: p == 0.)
    return fake


@pytest.mark.parametrize('given', [False, True])
def test_kernel_call_matches_reference(fake_kernel, given):
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(32, 4, batch_first=True)
    seqlens = [5, 9, 9, 1]
    x = torch.randn(sum(seqlens), 32)
    cu = cumulative_seqlens(seqlens, x.device) if given else None
    out = packed_attention(x, mha, seqlens, cu_seqlens=cu)
    assert_close_scaled(out, packed_attention_reference(x, mha, seqlens), 1e-5)
    (call,) = fake_kernel.calls
    assert call['shape'] == (sum(seqlens), 4, 8)
    assert call['cu_q'].tolist() == call['cu_k'].tolist() == [0, 5, 14, 23, 24]
    assert call['max_q'] == call['max_k'] == 9


def test_dropout_takes_the_fused_fallback(fake_kernel):
    mha = torch.nn.MultiheadAttention(32, 4, batch_first=True)
    packed_attention(torch.randn(6, 32), mha, [2, 4], dropout_p=0.5)
    assert fake_kernel.calls == []


def test_missing_kernel_falls_back(monkeypatch):
    monkeypatch.setattr(attention, 'varlen_attn', None)
    x = torch.randn(7, 32)
    assert not varlen_kernel_applies(x, 0.)
    mha = torch.nn.MultiheadAttention(32, 4, batch_first=True)
    assert_close_scaled(packed_attention(x, mha, [3, 4]),
                        packed_attention_reference(x, mha, [3, 4]), 1e-5)
