"""Dynamic MACs of a classifier: all fine equals mmpretrain's own ViT counted the same way;
coarse regions count less, by what their tokens cost."""
import pytest

pytest.importorskip('mmpretrain.models')

import torch  # noqa: E402
from mmengine.analysis import FlopAnalyzer  # noqa: E402
from torch import nn  # noqa: E402

from msvit_mm.analysis.flops import EXTRA_OP_HANDLES, count_image  # noqa: E402

from .helpers import ARCH, NUM_CLASSES, msvit_classifier, pretrain_classifier  # noqa: E402


class Logits(nn.Module):
    """mmpretrain's classifier as inference runs it: backbone -> head."""

    def __init__(self, model):
        super().__init__()
        self.backbone, self.head = model.backbone, model.head

    def forward(self, x):
        return self.head(self.backbone(x))


def reference_macs(model, x) -> int:
    fa = FlopAnalyzer(Logits(model).eval(), (x,)).set_op_handle(**EXTRA_OP_HANDLES)
    fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        return int(fa.total())


def test_all_fine_classifier_counts_as_mmpretrain_vit():
    x = torch.randn(1, 3, 64, 64)
    record = count_image(msvit_classifier(), x)
    assert record['macs'] == reference_macs(pretrain_classifier(), x)
    assert record['breakdown_macs']['heads'] == ARCH['embed_dims'] * NUM_CLASSES
    assert record['tokens'] == 16 and record['coarse_ratio'] == 0.0


def test_coarse_regions_count_less():
    model = msvit_classifier(gate=dict(type='MLPGate', hidden_dims=(8,)))
    x = torch.randn(1, 3, 64, 64)
    fine = count_image(model, x, torch.zeros(1, 2, 2, dtype=torch.bool))
    mixed = count_image(model, x, torch.tensor([[[True, False], [False, True]]]))
    assert mixed['tokens'] == 2 + 8 and mixed['coarse_ratio'] == 0.5
    # token-wise layers cost the same per token (qkv, proj, FFN, two LayerNorms of 5 per
    # element each; the final norm), attention grows with the square
    c, n_f, n_m = ARCH['embed_dims'], 1 + 16, 1 + 10
    layers, ffn = ARCH['num_layers'], ARCH['feedforward_channels']
    per_token = layers * (4 * c * c + 2 * c * ffn + 2 * 5 * c) + 5 * c
    attention = layers * 2 * c
    saved = (n_f - n_m) * per_token + (n_f ** 2 - n_m ** 2) * attention
    # patch embedding: 6 fewer 16x16 patches embedded (a coarse token is one pooled patch)
    saved += (16 - 10) * 3 * 16 * 16 * c
    assert fine['macs'] - mixed['macs'] == saved
