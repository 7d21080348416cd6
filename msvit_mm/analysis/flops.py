"""MACs of mmseg segmentors, mmpretrain classifiers and backbones per image, with mmengine's
(fvcore) FLOP counter.

Convention (fvcore, as mmengine's ``FlopAnalyzer`` and the published tables): one
multiply-add = 1; ``linear``/``conv``/``(b)mm``/``matmul``/``einsum`` count their MACs, a
LayerNorm 5 per element, an (eval) BatchNorm 2, a bilinear resize 4 per output element,
adaptive average pooling 1 per input element; element-wise ops (add, GELU, softmax, ...) count
0. Two handlers are added here: ``aten::scaled_dot_product_attention`` (mmengine counts it 0),
``B * heads * (Nq * Nk * d + Nq * Nk * d_v)``, i.e. ``Q K^T`` plus ``A V`` like the ``bmm``
path of ``nn.MultiheadAttention``; and ``aten::avg_pool2d``, 1 per input element like
mmengine's ``adaptive_avg_pool2d``.

A dynamic model is traced one image at a time (batch 1), in eval mode, so MSViT runs its
packed path with that image's gate decisions and only the tokens that exist are counted.
What is counted is what inference runs: backbone, neck and decode head (``mode='tensor'``);
the auxiliary heads (training only) and the final resize of the logits are not.
``torch.jit`` tracing runs the model's Python for real, so the per-image loop of packed
attention is traced with that image's token count. In packed (inference) execution MSViT's
tokenizer embeds only the tokens that exist, after the gate has decided, so the
``tokenizer_gate`` count is the gate and those embeddings (its poolings are sums of
strided views: additions, 0).

Example::

    records = [count_image(segmentor, img[None]) for img in images]  # img [3, H, W]
    summary = summarize(records)  # gmacs_mean, tokens_mean, breakdown, ...
"""
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import elementwise_flop_counter, get_shape
from torch import Tensor, nn

from ..ops.patchify import grid_size

__all__ = ['BREAKDOWN_KEYS', 'EXTRA_OP_HANDLES', 'InferenceForward', 'count_image',
           'count_images', 'inference_inputs', 'merge_forwards', 'params_of', 'sdpa_flop_jit',
           'slide_crops', 'summarize']

BREAKDOWN_KEYS = ('tokenizer_gate', 'gate', 'transformer', 'neck', 'heads')
GIGA = 1e9


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """MACs of ``aten::scaled_dot_product_attention(q [.., Nq, d], k [.., Nk, d], v [.., Nk, dv])``.

    ``prod(q.shape[:-1]) * Nk * (d + dv)``: the two matrix products; the mask, the scale and
    the softmax are element-wise (0, as fvcore counts ``softmax``).
    """
    q, k, v = (get_shape(x) for x in inputs[:3])
    lead_q = 1
    for s in q[:-1]:
        lead_q *= s
    return lead_q * k[-2] * (q[-1] + v[-1])


EXTRA_OP_HANDLES = {
    'aten::scaled_dot_product_attention': sdpa_flop_jit,
    'aten::avg_pool2d': elementwise_flop_counter(1, 0),
}


class InferenceForward(nn.Module):
    """What inference computes, as one traceable module: backbone -> neck -> decode head.

    Children keep the segmentor's names (``backbone``, ``neck``, ``decode_head``) so the
    counter's per-module totals use them; an mmpretrain classifier's ``head`` takes the
    decode head's place (its logits, before the softmax). An MSViT backbone runs
    ``forward_with_aux`` with the optional forced decisions, and the image's token
    statistics are written to ``sink``.

    Args:
        model: an mmseg segmentor (``backbone``, optional ``neck``, ``decode_head``), an
            mmpretrain classifier (``backbone``, optional ``neck``, ``head``) or a bare
            backbone.
        coarse_mask: [1, Hc, Wc] bool decisions forced on an MSViT backbone, or None.
        sink: dict that receives ``tokens`` and ``coarse_ratio`` (Python numbers).
    """

    def __init__(self, model: nn.Module, coarse_mask: Optional[Tensor] = None,
                 sink: Optional[Dict[str, float]] = None):
        super().__init__()
        is_segmentor = hasattr(model, 'decode_head')
        is_classifier = not is_segmentor and hasattr(model, 'backbone') and hasattr(model, 'head')
        whole = is_segmentor or is_classifier
        self.backbone = model.backbone if whole else model
        self.neck = model.neck if whole and getattr(model, 'with_neck', False) else None
        self.decode_head = (model.decode_head if is_segmentor
                            else model.head if is_classifier else None)
        self.coarse_mask = coarse_mask
        self.sink = {} if sink is None else sink

    def forward(self, img: Tensor) -> Any:
        """img [1, C, H, W] -> decode-head logits (or backbone features for a bare backbone)."""
        if hasattr(self.backbone, 'forward_with_aux'):
            feats, aux = self.backbone.forward_with_aux(img, self.coarse_mask)
            self.sink.update(tokens=int(aux['tokens_per_image'][0]),
                             coarse_ratio=float(aux['coarse_ratio'][0]))
        else:
            if self.coarse_mask is not None:
                raise ValueError('coarse_mask needs an MSViT backbone (forward_with_aux)')
            feats = self.backbone(img)
            self.sink.update(tokens=_static_tokens(self.backbone, img), coarse_ratio=0.)
        if self.neck is not None:
            feats = self.neck(feats)
        return feats if self.decode_head is None else self.decode_head(feats)


def _static_tokens(backbone: nn.Module, img: Tensor) -> int:
    """Tokens of a plain ViT (its patch grid, no cls token); 0 for a backbone without patches."""
    patch = getattr(backbone, 'patch_size', None)
    if patch is None:
        return 0
    h, w = grid_size(img.shape[-2:], patch)
    return h * w


def params_of(module: nn.Module) -> int:
    """Number of parameters (each shared tensor once)."""
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())


def _module_total(fa: FlopAnalyzer, names: Dict[str, nn.Module], name: str) -> int:
    return int(fa.total(name)) if name in names else 0


def count_image(model: nn.Module, img: Tensor, coarse_mask: Optional[Tensor] = None
                ) -> Dict[str, Any]:
    """Trace one forward on one image and count its MACs.

    Args:
        model: an mmseg segmentor, an mmpretrain classifier or a bare backbone; put in eval
            mode here.
        img: [1, C, H, W], normalized as the model's data preprocessor gives it.
        coarse_mask: optional [1, Hc, Wc] bool decisions forced on an MSViT backbone.

    Returns:
        dict with ``macs`` (int), ``breakdown_macs`` (ints: ``tokenizer_gate`` = patch
        embedding + mixed-scale tokenizer incl. the gate MLP, ``gate`` = the gate MLP alone,
        ``transformer`` = the rest of the backbone: layers, norms, position-embedding resize,
        unpacking; ``neck``; ``heads`` = decode head), ``tokens`` (without cls),
        ``coarse_ratio``, ``params`` (inference modules), ``forwards`` (1) and
        ``unsupported_ops`` (op -> calls, counted 0).
    """
    if img.dim() != 4 or img.shape[0] != 1:
        raise ValueError(f'count_image takes one image [1, C, H, W], got {tuple(img.shape)}')
    model.eval()  # mmseg's ViT.train() returns None, so no chaining
    sink: Dict[str, float] = {}
    net = InferenceForward(model, coarse_mask, sink)
    names = dict(net.named_modules())
    fa = FlopAnalyzer(net, (img,)).set_op_handle(**EXTRA_OP_HANDLES)
    fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        total = int(fa.total())
    neck = _module_total(fa, names, 'neck')
    heads = _module_total(fa, names, 'decode_head')
    tok = sum(_module_total(fa, names, n) for n in ('backbone.patch_embed', 'backbone.tokenizer'))
    breakdown = dict(tokenizer_gate=tok, gate=_module_total(fa, names, 'backbone.tokenizer.gate'),
                     transformer=total - neck - heads - tok, neck=neck, heads=heads)
    return dict(macs=total, breakdown_macs=breakdown, tokens=int(sink['tokens']),
                coarse_ratio=float(sink['coarse_ratio']), params=params_of(net), forwards=1,
                unsupported_ops=dict(fa.unsupported_ops()))


def merge_forwards(records: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """One image's record from the records of its forwards (sliding-window crops).

    MACs, breakdown and tokens add up; the coarse ratio is the mean over the forwards.
    """
    if len(records) == 1:
        return dict(records[0])
    unsupported: Dict[str, int] = {}
    for r in records:
        for op, n in r['unsupported_ops'].items():
            unsupported[op] = unsupported.get(op, 0) + n
    return dict(
        macs=sum(r['macs'] for r in records),
        breakdown_macs={k: sum(r['breakdown_macs'][k] for r in records) for k in BREAKDOWN_KEYS},
        tokens=sum(r['tokens'] for r in records),
        coarse_ratio=sum(r['coarse_ratio'] for r in records) / len(records),
        params=records[0]['params'], forwards=sum(r['forwards'] for r in records),
        unsupported_ops=unsupported)


def summarize(records: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Statistics over images: one record each, from :func:`count_image` / :func:`merge_forwards`.

    Returns:
        dict with ``num_images``, ``gmacs_mean/min/max``, ``tokens_mean``,
        ``coarse_ratio_mean``, ``forwards_mean`` (crops per image), ``params_m`` (inference
        modules, millions) and ``breakdown`` (mean GMACs per part, keys :data:`BREAKDOWN_KEYS`;
        ``gate`` is included in ``tokenizer_gate``).
    """
    if not records:
        raise ValueError('summarize needs at least one record')
    n = len(records)
    gmacs = [r['macs'] / GIGA for r in records]
    return dict(
        num_images=n, gmacs_mean=sum(gmacs) / n, gmacs_min=min(gmacs), gmacs_max=max(gmacs),
        tokens_mean=sum(r['tokens'] for r in records) / n,
        coarse_ratio_mean=sum(r['coarse_ratio'] for r in records) / n,
        forwards_mean=sum(r['forwards'] for r in records) / n,
        params_m=records[0]['params'] / 1e6,
        breakdown={k: sum(r['breakdown_macs'][k] for r in records) / n / GIGA
                   for k in BREAKDOWN_KEYS})


def slide_crops(img: Tensor, crop_size: Sequence[int], stride: Sequence[int]) -> List[Tensor]:
    """The crops mmseg's ``EncoderDecoder.slide_inference`` runs on ``img`` [1, C, H, W].

    Same grid as mmseg: ``ceil((H - crop) / stride) + 1`` rows (at least 1), the last crop
    moved back inside the image; crops are never larger than the image.
    """
    (h_crop, w_crop), (h_stride, w_stride) = crop_size, stride
    h_img, w_img = img.shape[-2:]
    h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
    w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
    crops = []
    for h_idx in range(h_grids):
        for w_idx in range(w_grids):
            y2 = min(h_idx * h_stride + h_crop, h_img)
            x2 = min(w_idx * w_stride + w_crop, w_img)
            y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
            crops.append(img[:, :, y1:y2, x1:x2])
    return crops


def inference_inputs(img: Tensor, test_cfg: Optional[dict]) -> List[Tensor]:
    """The inputs one image is run as at test time: itself ('whole') or its sliding crops."""
    if test_cfg is not None and test_cfg.get('mode', 'whole') == 'slide':
        return slide_crops(img, test_cfg['crop_size'], test_cfg['stride'])
    return [img]


def count_images(model: nn.Module, images: Iterable[Tensor],
                 test_cfg: Optional[dict] = None) -> Iterator[Dict[str, Any]]:
    """One record per image [1, C, H, W], each counted as inference runs it (see test_cfg)."""
    for img in images:
        yield merge_forwards([count_image(model, x) for x in inference_inputs(img, test_cfg)])
