"""Does a cls-token classifier's loss train MSViT's gate? (docs/classification_gate_signal.md)

    python benchmarks/cls_gate_signal/run.py [--stage1 600] [--stage2 300] [--seed 0]

96x96 noise images, 3x3 regions of 32 px, each holding a random 1-pixel pattern of 4 kinds
(2x2 pooling turns every kind into the same flat value); one region is tinted red (visible
at the coarse scale too) and its pattern is the class. Stage 1 trains a small ViT all fine;
stage 2 adds the learned gate (gBaS, 7/9 coarse target) from the same stage-1 weights three
ways: masked execution with the keys weighted by the decisions (MSViTCls' default while the
gate learns), masked without the key weighting, and packed. Printed per run: accuracy at the
gate's decisions, the share of images whose tinted region is the gate's most fine-leaning one
(the budget-matched measure: one fine region per image), the share where it is fine, the
coarse ratio, and the accuracy with only the tinted region fine (the oracle's).
"""
import argparse
import copy
import os.path as osp
import sys
import time

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))

import msvit_mm.classification.backbone as bbmod  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402
from mmpretrain.registry import MODELS  # noqa: E402
from mmpretrain.structures import DataSample  # noqa: E402

S, R = 96, 3  # image side, regions per side


def batch(n, g):
    x = 0.3 * torch.randn(n, 3, S, S, generator=g)
    c = torch.randint(0, 4, (n,), generator=g)
    r = torch.randint(0, R * R, (n,), generator=g)
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing='ij')
    pats = torch.stack([(yy + xx) % 2, yy % 2, xx % 2, (yy + 2 * xx) % 2]).float() * 2 - 1
    kinds = torch.randint(0, 4, (n, R * R), generator=g)  # every region a random 1-px pattern
    kinds[torch.arange(n), r] = c  # the tinted region's pattern is the class
    for i in range(n):
        for k in range(R * R):
            ry, rx = divmod(k, R)
            x[i, :, ry * 32:(ry + 1) * 32, rx * 32:(rx + 1) * 32] += pats[kinds[i, k]]
        ry, rx = divmod(int(r[i]), R)
        x[i, 0, ry * 32:(ry + 1) * 32, rx * 32:(rx + 1) * 32] += 1.0  # red tint: seen coarse too
    return x, c, r


def samples(c):
    return [DataSample().set_gt_label(int(v)) for v in c]


def model():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(dict(type='MSViTImageClassifier',
                      backbone=dict(type='MSViTCls', arch=dict(embed_dims=64, num_layers=4,
                                                               num_heads=4,
                                                               feedforward_channels=128),
                                    img_size=S, gate=dict(type='MLPGate', hidden_dims=(64, 64))),
                      head=dict(type='VisionTransformerClsHead', num_classes=4, in_channels=64),
                      gate_loss=dict(type='GeneralizedBatchShapingLoss', grid_size=(R, R),
                                     target_coarse_ratio=7 / 9)))


def stage1(m, iters, seed):
    opt = torch.optim.AdamW([p for n, p in m.named_parameters() if 'gate' not in n], lr=1e-3)
    g = torch.Generator().manual_seed(1000 * seed + 1)
    fine = torch.zeros(32, R, R, dtype=torch.bool)
    m.train()
    for it in range(iters):
        x, c, _ = batch(32, g)
        feats, _ = m.backbone.forward_with_aux(x, fine)
        loss = m.head.loss(feats, samples(c))['loss']
        opt.zero_grad(); loss.backward(); opt.step()
        if it % 100 == 0:
            print('stage1', it, float(loss), flush=True)


def stage2(m, iters, execution, seed):
    m.backbone.execution = execution
    params = [{'params': [p for n, p in m.named_parameters() if 'gate' in n], 'lr': 1e-3},
              {'params': [p for n, p in m.named_parameters() if 'gate' not in n], 'lr': 1e-4}]
    opt = torch.optim.AdamW(params)
    g = torch.Generator().manual_seed(1000 * seed + 2)
    m.train()
    for it in range(iters):
        x, c, _ = batch(32, g)
        losses = m.loss(x, samples(c))
        loss = sum(v for k, v in losses.items() if k.startswith('loss'))
        opt.zero_grad(); loss.backward(); opt.step()
        if it % 100 == 0:
            print(execution, it, {k: round(float(v), 3) for k, v in losses.items()}, flush=True)


@torch.no_grad()
def evaluate(m, seed, n=512):
    m.eval()
    g = torch.Generator().manual_seed(1000 * seed + 3)
    x, c, r = batch(n, g)
    feats, aux = m.backbone.forward_with_aux(x)
    acc = (m.head(feats).argmax(1) == c).float().mean().item()
    p = aux['gate_probs'].flatten(1)  # coarse probability
    lowest = (p.argmin(1) == r).float().mean().item()  # pattern region the most fine-leaning
    fine_at_pattern = (~aux['coarse_mask'].flatten(1)[torch.arange(n), r]).float().mean().item()
    # oracle: only the pattern region fine; random: 2 random regions fine
    oracle = torch.ones(n, R * R, dtype=torch.bool); oracle[torch.arange(n), r] = False
    logits = m.head(m.backbone.forward_with_aux(x, oracle.view(n, R, R))[0])
    acc_oracle = (logits.argmax(1) == c).float().mean().item()
    return dict(acc=acc, pattern_region_lowest=lowest, pattern_fine=fine_at_pattern,
                coarse=aux['coarse_ratio'].mean().item(), acc_oracle_1fine=acc_oracle)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--stage1', type=int, default=600, help='stage-1 iterations (batch 32)')
    parser.add_argument('--stage2', type=int, default=300, help='stage-2 iterations (batch 32)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--runs', nargs='+', default=['masked', 'masked_nokey', 'packed'])
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    t = time.time()
    base = model()
    stage1(base, args.stage1, args.seed)
    print('stage1 done', round(time.time() - t), flush=True)
    for run in args.runs:
        m = copy.deepcopy(base)
        torch.manual_seed(args.seed + 1)  # the same gate noise for every run
        if run == 'masked_nokey':  # ablation: masked execution without the key weighting
            orig = bbmod.KeyWeightedLayout.from_masked
            bbmod.KeyWeightedLayout.from_masked = classmethod(lambda cls, layout: layout)
            try:
                stage2(m, args.stage2, 'masked', args.seed)
            finally:
                bbmod.KeyWeightedLayout.from_masked = orig
        else:
            stage2(m, args.stage2, run, args.seed)
        result = {k: round(v, 3) for k, v in evaluate(m, args.seed).items()}
        print('RESULT', run, result, f'{round(time.time() - t)} s', flush=True)


if __name__ == '__main__':
    main()
