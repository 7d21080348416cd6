"""Pretrained ViT checkpoints (timm/DeiT, mmseg, mmpretrain) load into MSViT exactly."""
import os
import os.path as osp
import re
import subprocess
import sys

import mmseg
import pytest
import torch
from mmseg.models.backbones import VisionTransformer

from msvit_mm.models.backbones import MSViT
from msvit_mm.models.backbones.pretrained import fold_layer_scale, load_pretrained
from tests.helpers import ROOT, assert_close_scaled, load_module

CFG = dict(img_size=64, patch_size=16, embed_dims=32, num_layers=3, num_heads=4, mlp_ratio=2,
           out_indices=(0, 2), final_norm=True, patch_bias=True, drop_rate=0.,
           attn_drop_rate=0., drop_path_rate=0.)
ALL_FINE = dict(type='FixedGate', coarse=False)
# the inverse of mmseg's tools/model_converters/vit2mmseg.py (checked against it below)
TO_TIMM = [(r'^ln1\.', 'norm.'), (r'^patch_embed\.projection\.', 'patch_embed.proj.'),
           (r'\.ln(1|2)\.', r'.norm\1.'), (r'\.attn\.attn\.in_proj_', '.attn.qkv.'),
           (r'\.attn\.attn\.out_proj\.', '.attn.proj.'), (r'\.ffn\.layers\.0\.0\.', '.mlp.fc1.'),
           (r'\.ffn\.layers\.1\.', '.mlp.fc2.'), (r'^layers\.', 'blocks.')]
# mmpretrain 1.2.0 backbones/vision_transformer.py: attn.qkv / attn.proj, the rest as mmseg
TO_MMPRETRAIN = [(r'\.attn\.attn\.in_proj_', '.attn.qkv.'),
                 (r'\.attn\.attn\.out_proj\.', '.attn.proj.')]


def with_layer_scales(state: dict, blocks: str, gamma_suffix: str, pairs) -> dict:
    """Add a random layer scale per residual branch, dividing the branch's output linear by it.

    For every layer i and ``(scale, linear)`` in ``pairs``: ``gamma`` is stored at
    ``{blocks}.{i}.{scale}{gamma_suffix}`` and ``{blocks}.{i}.{linear}.weight`` / ``.bias``
    are divided by it, so folding the scale back gives the original weights.
    """
    for i in range(CFG['num_layers']):
        for scale, linear in pairs:
            gamma = torch.rand(32) + 0.5
            state[f'{blocks}.{i}.{scale}{gamma_suffix}'] = gamma
            key = f'{blocks}.{i}.{linear}'
            state[f'{key}.weight'] = state[f'{key}.weight'] / gamma[:, None]
            state[f'{key}.bias'] = state[f'{key}.bias'] / gamma
    return state


def rename(state: dict, rules) -> dict:
    out = {}
    for key, value in state.items():
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def make_vit(seed: int = 0, **kwargs) -> VisionTransformer:
    """An mmseg ViT with random weights everywhere (norms and biases included), eval mode."""
    torch.manual_seed(seed)
    vit = VisionTransformer(**dict(CFG, **kwargs))
    with torch.no_grad():
        for name, p in vit.named_parameters():
            p.normal_(mean=1.0 if name.endswith('ln1.weight') or 'ln2.w' in name else 0.,
                      std=0.5 if name in ('pos_embed', 'cls_token') else 0.2)
    vit.eval()
    return vit


@pytest.fixture(scope='module')
def vit():
    return make_vit()


@pytest.fixture(scope='module')
def x():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def build(path: str, gate: dict = ALL_FINE, **kwargs) -> MSViT:
    model = MSViT(**dict(CFG, **kwargs), gate=gate,
                  init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    return model.eval()


def assert_same_features(model, vit, x):
    with torch.no_grad():
        ref, out = vit(x), model(x)
    for r, o in zip(ref, out):
        assert_close_scaled(o, r)


def timm_checkpoint(vit) -> dict:
    state = rename(vit.state_dict(), TO_TIMM)
    state.update({'head.weight': torch.randn(10, 32), 'head.bias': torch.randn(10)})
    return {'model': state}


def variant(vit, kind: str) -> dict:
    """``vit``'s weights as a checkpoint of one format / flavour."""
    sd = vit.state_dict()
    if kind == 'timm':
        return timm_checkpoint(vit)
    if kind == 'timm_distilled':  # DeiT distilled: 2 prefix tokens, a second head
        state = timm_checkpoint(vit)['model']
        pos = state['pos_embed']
        state['pos_embed'] = torch.cat([pos[:, :1], torch.randn(1, 1, 32), pos[:, 1:]], 1)
        state.update({'dist_token': torch.randn(1, 1, 32), 'head_dist.weight': torch.randn(10, 32),
                      'head_dist.bias': torch.randn(10)})
        return {'model': state}
    if kind == 'timm_no_embed_class':  # pos_embed without a cls position
        state = timm_checkpoint(vit)['model']
        state['cls_token'] = state['cls_token'] + state['pos_embed'][:, :1]
        state['pos_embed'] = state['pos_embed'][:, 1:]
        return state
    if kind == 'timm_layer_scale':  # DeiT-3 style ls1 / ls2, folded back on load
        return with_layer_scales(timm_checkpoint(vit)['model'], 'blocks', '.gamma',
                                 (('ls1', 'attn.proj'), ('ls2', 'mlp.fc2')))
    if kind == 'mmseg':  # a segmentor checkpoint: backbone + decode head
        state = {f'backbone.{k}': v for k, v in sd.items()}
        state['decode_head.conv_seg.weight'] = torch.randn(5, 32, 1, 1)
        return {'state_dict': state, 'meta': {}}
    if kind == 'mmseg_backbone':  # vit2mmseg.py output
        return dict(sd)
    if kind == 'mmpretrain':  # an ImageClassifier checkpoint with layer scales
        state = with_layer_scales(rename(sd, TO_MMPRETRAIN), 'layers', '.weight',
                                  (('attn.gamma1', 'attn.proj'), ('ffn.gamma2', 'ffn.layers.1')))
        state = {f'backbone.{k}': v for k, v in state.items()}
        state.update({'head.layers.head.weight': torch.randn(10, 32),
                      'data_preprocessor.mean': torch.zeros(3)})
        return {'state_dict': state, 'meta': {'epoch': 1}}
    raise KeyError(kind)


def test_timm_names_invert_mmseg_vit2mmseg(vit):
    tool = load_module(osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                                'model_converters', 'vit2mmseg.py'), 'vit2mmseg')
    converted = tool.convert_vit(timm_checkpoint(vit)['model'])
    assert list(converted) == list(vit.state_dict())


@pytest.mark.parametrize('kind', ['timm', 'timm_distilled', 'timm_no_embed_class',
                                  'timm_layer_scale', 'mmseg', 'mmseg_backbone', 'mmpretrain'])
def test_formats_give_mmseg_vit_features(kind, vit, x, tmp_path):
    path = tmp_path / f'{kind}.pth'
    torch.save(variant(vit, kind), path)
    assert_same_features(build(path), vit, x)


def test_deprecated_pretrained_argument(vit, x, tmp_path):
    torch.save(variant(vit, 'timm'), tmp_path / 'deit.pth')
    model = MSViT(**CFG, gate=ALL_FINE, pretrained=str(tmp_path / 'deit.pth'))
    model.init_weights()
    assert_same_features(model.eval(), vit, x)


def test_report_and_fresh_gate(vit, tmp_path):
    path = str(tmp_path / 'deit.pth')
    torch.save(variant(vit, 'timm_distilled'), path)
    torch.manual_seed(3)
    loaded = build(path, gate=None)  # a gate with weights the checkpoint lacks
    torch.manual_seed(3)
    fresh = MSViT(**CFG)
    fresh.init_weights()
    for (name, a), b in zip(loaded.tokenizer.gate.state_dict().items(),
                            fresh.tokenizer.gate.state_dict().values()):
        assert torch.equal(a, b) and (name.endswith('bias') or a.abs().sum() > 0), name
    expected = {k: tuple(v.shape) for k, v in loaded.state_dict().items()}
    _, report = load_pretrained(path, expected, (4, 4))
    assert report.format == 'timm'
    assert report.initialized and all(k.startswith('tokenizer.gate.') for k in report.initialized)
    assert report.converted['layers.0.attn.attn.in_proj_weight'] == 'blocks.0.attn.qkv.weight'
    assert {'head.weight', 'head_dist.bias', 'dist_token'} <= set(report.ignored)
    assert 'cls_token' in report.loaded and 'pos_embed' not in report.loaded
    assert any('prefix' in n for n in report.notes)
    assert 'tokenizer.gate' in report.summary() and path in report.summary()


def test_fold_layer_scale():
    lin, gamma, x = torch.nn.Linear(8, 6), torch.randn(6), torch.randn(4, 8)
    w, b = fold_layer_scale(lin.weight, lin.bias, gamma)
    assert_close_scaled(x @ w.T + b, gamma * lin(x))


@pytest.mark.parametrize('img_size,grid', [(512, (32, 32)), ((64, 128), (4, 8))])
def test_pos_embed_resized_like_mmseg(img_size, grid, tmp_path):
    src = make_vit(img_size=224)  # 14 x 14 grid
    torch.save(timm_checkpoint(src), tmp_path / 'vit224.pth')
    model = build(tmp_path / 'vit224.pth', img_size=img_size)
    ref = VisionTransformer.resize_pos_embed(src.pos_embed.detach(), grid, (14, 14), 'bicubic')
    assert model.pos_embed.shape == (1, 1 + grid[0] * grid[1], 32)
    assert_close_scaled(model.pos_embed.detach(), ref, rel=1e-6)  # the same interpolation


def test_non_square_source_grid(tmp_path):
    src = make_vit(img_size=(224, 112))  # 14 x 7: not square, so the caller must say
    path = str(tmp_path / 'wide.pth')
    torch.save(variant(src, 'mmseg'), path)
    with pytest.raises(ValueError, match='source_grid') as err:
        build(path)
    assert path in str(err.value)
    model = MSViT(**CFG, init_cfg=dict(type='Pretrained', checkpoint=path, source_grid=(14, 7)))
    model.init_weights()
    ref = VisionTransformer.resize_pos_embed(src.pos_embed.detach(), (4, 4), (14, 7), 'bicubic')
    assert_close_scaled(model.pos_embed.detach(), ref, rel=1e-6)  # the same interpolation


def test_truncated_file_names_it(vit, tmp_path):
    path = tmp_path / 'broken.pth'
    torch.save(variant(vit, 'timm'), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RuntimeError, match=re.escape(str(path))):
        build(path)


def test_loader_error_without_file_name_is_wrapped(vit, tmp_path, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    path = tmp_path / 'other.pth'
    torch.save(variant(vit, 'timm'), path)

    def failing_load(*args, **kwargs):
        raise EOFError('Ran out of input')
    monkeypatch.setattr(CheckpointLoader, 'load_checkpoint', failing_load)
    with pytest.raises(RuntimeError, match=re.escape(str(path)) + '.*Ran out of input'):
        build(path)


@pytest.mark.parametrize('state,match', [
    ({'conv1.weight': torch.zeros(64, 3, 7, 7), 'bn1.weight': torch.ones(64),
      'layer1.0.conv1.weight': torch.zeros(64, 64, 3, 3), 'fc.weight': torch.zeros(10, 64)},
     'not a ViT checkpoint'),
    ({'blocks.0.attn.q_norm.weight': torch.ones(8)}, 'blocks.0.attn.q_norm.weight'),
    ({'blocks.3.norm1.weight': torch.ones(32)}, 'lacks: layers.3.ln1.weight'),
    ({'patch_embed.proj.weight': torch.zeros(64, 3, 16, 16)}, 'shapes differ'),
])
def test_foreign_or_mismatched_keys_name_the_file(state, match, vit, tmp_path):
    path = tmp_path / 'foreign.pth'
    full = state if 'conv1.weight' in state else dict(timm_checkpoint(vit)['model'], **state)
    torch.save(full, path)
    with pytest.raises(ValueError, match=re.escape(match)) as err:
        build(path)
    assert str(path) in str(err.value)


def test_missing_file_says_what_to_do(tmp_path):
    path = str(tmp_path / 'pretrain' / 'deit_small_patch16_224-b5f2ef4d.pth')
    with pytest.raises(FileNotFoundError) as err:
        build(path)
    for text in (path, 'model.pretrained=None', 'deit_small_patch16_224-cd65a155.pth',
                 'vit_small_patch16_224.augreg_in21k_ft_in1k', 'vit2msvit.py'):
        assert text in str(err.value)


def test_converter_round_trip(vit, x, tmp_path):
    tool = load_module(osp.join(ROOT, 'tools', 'model_converters', 'vit2msvit.py'), 'vit2msvit')
    src, dst = str(tmp_path / 'deit.pth'), str(tmp_path / 'out' / 'msvit.pth')
    torch.save(variant(vit, 'timm_distilled'), src)
    out = tool.main([src, dst, '--img-size', '64'])
    assert out['meta']['pos_embed_grid'] == [4, 4] and out['meta']['source_format'] == 'timm'
    assert 'layers.0.attn.attn.in_proj_weight' in torch.load(dst)['state_dict']
    assert_same_features(build(dst), vit, x)
    tool.main([src, dst, '--img-size', '64', '128'])  # overwrite; non-square grid in meta
    model = build(dst, img_size=(64, 128))
    ref = VisionTransformer.resize_pos_embed(vit.pos_embed.detach(), (4, 8), (4, 4), 'bicubic')
    assert_close_scaled(model.pos_embed.detach(), ref, rel=1e-6)  # the same interpolation
    assert sorted(os.listdir(tmp_path / 'out')) == ['msvit.pth']


def test_converter_failure_leaves_no_file(vit, tmp_path, monkeypatch):
    tool = load_module(osp.join(ROOT, 'tools', 'model_converters', 'vit2msvit.py'), 'vit2msvit')
    src, dst = str(tmp_path / 'deit.pth'), str(tmp_path / 'out' / 'msvit.pth')
    torch.save(variant(vit, 'timm'), src)

    def failing_save(obj, f):
        f.write(b'half')
        raise OSError('disk full')
    monkeypatch.setattr(tool.torch, 'save', failing_save)
    with pytest.raises(OSError, match='disk full'):
        tool.main([src, dst])
    assert os.listdir(tmp_path / 'out') == []
    monkeypatch.undo()
    torch.save({'conv1.weight': torch.zeros(1)}, src)  # foreign: the CLI exits with the reason
    run = subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'model_converters',
                                                   'vit2msvit.py'), src, dst],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode != 0 and 'not a ViT checkpoint' in run.stderr and src in run.stderr
    assert os.listdir(tmp_path / 'out') == []
