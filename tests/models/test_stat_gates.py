"""Gates that read region statistics: ``MLPGate(region_features=...)`` (statistics against a
numpy computation, gradients to the gate) and ``ResidualRuleGate`` (the entropy rule at
initialization, a correction that learns)."""
import math

import numpy as np
import pytest
import torch

from msvit_mm.models.backbones import MSViT
from msvit_mm.models.gates import MLPGate, PixelStatGate, ResidualRuleGate, build_gate
from msvit_mm.models.gates.region_features import region_features
from msvit_mm.models.gates.residual_rule_gate import standardize_per_image
from msvit_mm.ops.region_scores import rate_counts, topk_regions
from tests.helpers import assert_close_scaled

from .helpers import SMALL

FEATURES = ('entropy', 'std', 'laplacian', 'subpatch_dissimilarity')


def _images(seed: int = 0, b: int = 2, hc: int = 3, wc: int = 4) -> torch.Tensor:
    """Regions of varied detail: noise of a random amplitude per region, some flat regions."""
    g = torch.Generator().manual_seed(seed)
    amp = torch.rand(b, 1, hc, wc, generator=g) * 1.5
    amp[:, :, 0, :2] = 0  # flat regions: ties of entropy 0 and std 0
    base = torch.randn(b, 3, hc, wc, generator=g).repeat_interleave(32, 2).repeat_interleave(32, 3)
    noise = torch.randn(b, 3, hc * 32, wc * 32, generator=g)
    return base * 0.5 + noise * amp.repeat_interleave(32, 2).repeat_interleave(32, 3)


def _numpy_stats(x: np.ndarray, patch_w: np.ndarray, patch_b: np.ndarray, bins=32,
                 lo=-2.2, hi=2.7) -> np.ndarray:
    """The four statistics of every 32x32 region, by loops: [B, Hc, Wc, 4]."""
    b, _, h, w = x.shape
    grey = x.mean(1)
    out = np.zeros((b, h // 32, w // 32, 4))
    for n in range(b):
        g = np.pad(grey[n], 1, mode='edge')
        lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
        for i in range(h // 32):
            for j in range(w // 32):
                ys, xs = slice(32 * i, 32 * i + 32), slice(32 * j, 32 * j + 32)
                idx = np.clip(np.floor((grey[n, ys, xs] - lo) / (hi - lo) * bins), 0, bins - 1)
                p = np.bincount(idx.astype(int).ravel(), minlength=bins) / 1024
                ent = -sum(q * math.log(q) for q in p if q > 0) / math.log(bins)
                std = np.mean([x[n, c, ys, xs].std() for c in range(x.shape[1])])
                emb = []
                for di in (0, 16):
                    for dj in (0, 16):
                        patch = x[n, :, 32 * i + di:32 * i + di + 16, 32 * j + dj:32 * j + dj + 16]
                        e = patch_w.reshape(patch_w.shape[0], -1) @ patch.ravel() + patch_b
                        emb.append(e / np.linalg.norm(e))
                cos = [emb[a] @ emb[c] for a in range(4) for c in range(4) if a != c]
                out[n, i, j] = ent, std, math.log1p(np.mean(lap[ys, xs] ** 2)), 1 - np.mean(cos)
    return out


def _msvit(gate: dict) -> MSViT:
    torch.manual_seed(0)
    model = MSViT(**dict(SMALL, num_layers=2, out_indices=(1,)), gate=gate)
    model.init_weights()
    return model


def test_region_statistics_equal_a_numpy_computation():
    x = _images()
    embed = _msvit(dict(type='MLPGate', hidden_dims=(8,))).patch_embed
    got = region_features(x, 32, FEATURES, embed)
    proj = embed.projection
    bias = proj.bias if proj.bias is not None else torch.zeros(proj.out_channels)
    ref = _numpy_stats(x.double().numpy(), proj.weight.detach().double().numpy(),
                       bias.detach().double().numpy())
    assert got.shape == (2, 3, 4, 4)
    assert_close_scaled(got.double(), torch.from_numpy(ref), rel=1e-4)
    assert (got[:, 0, :2, :2] == 0).all()  # flat regions: no entropy, no std


def test_feature_gate_scores_gradients_and_defaults():
    plain = MLPGate(hidden_dims=(8,))
    gate = build_gate(dict(type='MLPGate', hidden_dims=(8,), region_features=FEATURES), 3, 32)
    assert gate.mlp[0].in_features == plain.mlp[0].in_features + 4 == 3 * 32 * 32 + 4
    assert not plain.uses_patch_embed and gate.uses_patch_embed
    model = _msvit(dict(type='MLPGate', hidden_dims=(8,), region_features=FEATURES))
    gate = model.tokenizer.gate
    x = _images(1)
    with pytest.raises(ValueError, match='patch embedding'):
        gate.scores(x)
    model.train()
    outs, aux = model.forward_with_aux(x[..., :96, :96])  # through the tokenizer (masked)
    (outs[0].square().mean() + aux['gate_probs'].mean()).backward()
    first = gate.mlp[0].weight.grad
    assert first[:, -4:].abs().amin(0).gt(0).all()  # every statistic's column learns
    assert model.patch_embed.projection.weight.grad is not None
    # the statistics move the logits: a gate that ignores them gives other scores
    with torch.no_grad():
        scores = gate.scores(x, model.patch_embed)
        gate.mlp[0].weight[:, -4:] = 0
        assert not torch.allclose(scores, gate.scores(x, model.patch_embed))
    for bad in (('entropy', 'entropy'), ('gradient',), 'entropy'):
        with pytest.raises(ValueError, match='region_features'):
            MLPGate(region_features=bad)


@pytest.mark.parametrize('ratio', [0.25, 0.5, 0.75])
def test_residual_gate_at_init_picks_the_entropy_rule_regions(ratio):
    model = _msvit(dict(type='ResidualRuleGate', hidden_dims=(16, 16)))  # backbone init ran
    gate = model.tokenizer.gate
    rule = PixelStatGate(statistic='entropy', coarse_ratio=ratio)
    x = _images(2, b=4)
    with torch.no_grad():
        scores, rule_scores = gate.scores(x), rule.scores(x)
    counts = rate_counts(4, 12, ratio)
    assert torch.equal(topk_regions(scores, counts), rule.decide(rule_scores)[0])
    # the same per-image counts the rule would get from a threshold
    assert torch.equal(topk_regions(scores, counts), topk_regions(rule_scores, counts))
    assert scores.std() > 0.5  # scaled: the logits are not all near zero
    # exactly the scaled rule: the correction adds zeros after the backbone's weight init
    assert torch.equal(scores, gate.scale * standardize_per_image(rule_scores))


def test_residual_gate_correction_learns_and_can_change_the_ranking():
    gate = ResidualRuleGate(hidden_dims=(16, 16))
    assert isinstance(gate.mlp[-1].weight, torch.nn.Parameter)
    assert gate.mlp[-1].weight.abs().sum() == 0
    x = _images(3)
    gate.train()
    out = gate(x)
    (out.weight * torch.randn(out.weight.shape, generator=torch.Generator().manual_seed(0))
     ).sum().backward()
    assert gate.mlp[-1].weight.grad.abs().sum() > 0 and gate.mlp[-1].bias.grad.abs() > 0
    assert gate.scale.grad.abs() > 0
    rule = PixelStatGate(statistic='entropy').scores(x)
    with torch.no_grad():
        gate.mlp[-1].weight.normal_(std=50.)
        gate.eval()
        counts = rate_counts(2, 12, 0.5)
        assert not torch.equal(topk_regions(gate.scores(x), counts), topk_regions(rule, counts))
    with pytest.raises(ValueError, match='statistic'):
        ResidualRuleGate(statistic='laplacian')
    with pytest.raises(ValueError, match='rule_scale'):
        ResidualRuleGate(rule_scale=0.)
