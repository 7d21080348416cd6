"""vit2msvit.py's output file: atomic, no temp file left after a SIGKILL, the usual mode, a
clear message for a directory."""
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
from mmseg.models.backbones import VisionTransformer

from tests.helpers import ROOT, load_module

TOOL = osp.join(ROOT, 'tools', 'model_converters', 'vit2msvit.py')


@pytest.fixture
def src(tmp_path) -> str:
    vit = VisionTransformer(img_size=64, embed_dims=32, num_layers=1, num_heads=2)
    path = str(tmp_path / 'vit.pth')
    torch.save(vit.state_dict(), path)
    return path


def test_output_has_the_usual_mode(src, tmp_path):
    tool = load_module(TOOL, 'vit2msvit_mode')
    dst = tmp_path / 'out' / 'msvit.pth'
    tool.main([src, str(dst)])
    umask = os.umask(0)
    os.umask(umask)
    assert oct(dst.stat().st_mode & 0o777) == oct(0o666 & ~umask)
    assert os.listdir(dst.parent) == ['msvit.pth']


def test_directory_output_is_named(src, tmp_path):
    tool = load_module(TOOL, 'vit2msvit_dir')
    with pytest.raises(IsADirectoryError, match='is a directory; give a file name'):
        tool.main([src, str(tmp_path)])
    proc = subprocess.run([sys.executable, TOOL, src, str(tmp_path)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 1 and 'is a directory' in proc.stderr
    assert 'Traceback' not in proc.stderr and '.tmp' not in proc.stderr


def test_killed_run_leaves_no_file(src, tmp_path):
    out = tmp_path / 'out'
    out.mkdir()
    script = textwrap.dedent(f'''
        import os, signal, sys
        sys.path.insert(0, {ROOT!r})
        import torch
        from tests.helpers import load_module
        tool = load_module({TOOL!r}, 'vit2msvit_kill')

        def save_then_die(obj, f):
            f.write(b'partial')
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        torch.save = save_then_die
        tool.main([{src!r}, {str(out / 'msvit.pth')!r}])
    ''')
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert os.listdir(out) == []
    # what a kill during the short final write would leave is replaced by the next run
    (out / '.msvit.pth.tmp').write_bytes(b'partial')
    load_module(TOOL, 'vit2msvit_after_kill').main([src, str(out / 'msvit.pth')])
    assert os.listdir(out) == ['msvit.pth']
