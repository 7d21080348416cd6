"""Small models shared by the model tests."""
import torch
from mmseg.models.backbones import VisionTransformer

from msvit_mm.models.backbones import MSViT
from msvit_mm.models.losses import GateLossInput

SMALL = dict(img_size=64, patch_size=16, embed_dims=32, num_layers=12, num_heads=4,
             mlp_ratio=2, out_indices=(2, 5, 8, 11), drop_rate=0., attn_drop_rate=0.,
             drop_path_rate=0.)


def vit_and_msvit(seed: int = 0, **kwargs):
    """An mmseg ViT with random weights and an MSViT holding the same weights (eval mode)."""
    torch.manual_seed(seed)
    cfg = dict(SMALL, **kwargs)
    msvit_only = {k: cfg.pop(k) for k in list(cfg) if k in (
        'coarse_patch_size', 'gate', 'execution')}
    vit = VisionTransformer(**cfg)
    vit.init_weights()
    with torch.no_grad():  # non-trivial cls/pos values
        vit.pos_embed.normal_(std=0.5)
        vit.cls_token.normal_(std=0.5)
    msvit = MSViT(**cfg, **msvit_only)
    msvit.init_weights()
    missing, unexpected = msvit.load_state_dict(vit.state_dict(), strict=False)
    assert not unexpected and all(k.startswith('tokenizer.gate.') for k in missing)
    assert bool(missing) == msvit.tokenizer.gate.learned  # only a learned gate has weights
    vit.eval()  # mmseg's ViT.train() returns None
    return vit, msvit.eval()


def gate_input(probs: torch.Tensor, **kwargs) -> GateLossInput:
    """The gate losses' input for probabilities ``probs`` [B, Hc, Wc] (logits and decisions
    derived from them); ``kwargs``: the labels' fields of ``GateLossInput``."""
    return GateLossInput(gate_logits=torch.logit(probs), gate_probs=probs,
                         coarse_mask=probs > 0.5, **kwargs)
