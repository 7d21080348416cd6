"""The ``patch_pad`` values of mmseg's ``VisionTransformer`` that MSViT reproduces exactly."""
from torch import nn


def check_patch_pad(patch_embed: nn.Module) -> None:
    """Raise ``ValueError`` unless ``patch_embed`` (mmseg's ``PatchEmbed``) pads like
    ``patch_pad='corner'``, mmseg's default: zeros at the bottom and right, up to a multiple of
    the patch size, and no padding inside the convolution.

    The mixed-scale tokenizer cuts 32x32 regions from the image padded that way; 'same'
    (symmetric padding) or an integer (padding inside the convolution, another grid: 15x22
    instead of 14x21 for 234x345) would give other tokens than mmseg's ViT, silently.
    """
    adaptive = getattr(patch_embed, 'adap_padding', None)
    mode = getattr(adaptive, 'padding', None) if adaptive is not None else None
    conv_pad = getattr(patch_embed.projection, 'padding', (0, 0))
    if mode == 'corner' and tuple(conv_pad) in ((0, 0), (0,)):
        return
    given = repr(mode) if mode is not None else (
        conv_pad[0] if len(set(conv_pad)) == 1 else tuple(conv_pad))
    raise ValueError(
        f'MSViT supports only patch_pad=\'corner\' (mmseg\'s default), got patch_pad={given}: '
        'the mixed-scale tokens are cut from the image padded at the bottom and right, so '
        "'same' or an integer padding would silently differ from mmseg's VisionTransformer")
