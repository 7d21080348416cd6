"""Every module of the package imports, no two import each other (directly or round a loop),
and the package never imports the benchmarks."""
import ast
import importlib
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Set

from tests.helpers import ROOT

PACKAGE = 'msvit_mm'


def _modules() -> Dict[str, str]:
    """Dotted name -> file of every module of the package (``__init__`` as the package)."""
    out = {}
    for folder, _, files in os.walk(osp.join(ROOT, PACKAGE)):
        for f in sorted(files):
            if f.endswith('.py'):
                rel = osp.relpath(osp.join(folder, f), ROOT)[:-3].replace(os.sep, '.')
                out[rel[:-len('.__init__')] if rel.endswith('.__init__') else rel] = \
                    osp.join(folder, f)
    return out


def _imports(name: str, path: str, modules: Dict[str, str]) -> Set[str]:
    """The modules of the package that ``name`` imports (at any depth of its code)."""
    package = name if path.endswith('__init__.py') else name.rpartition('.')[0]
    found: Set[str] = set()
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition('.')[0]
            base = f'{base}.{node.module}' if node.level and node.module else (
                base if node.level else node.module)
            for alias in node.names:  # `from pkg import mod` imports pkg.mod
                found.add(f'{base}.{alias.name}' if f'{base}.{alias.name}' in modules else base)
    return {m for m in found if m in modules or m.split('.')[0] == 'benchmarks'}


def _cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import loop of ``graph`` (a list of modules, first == last), or []."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _has_mmpretrain() -> bool:
    try:
        importlib.import_module('mmpretrain.models')  # imports torchvision's compiled ops
    except Exception:  # noqa: BLE001 - any failure means: no classification here
        return False
    return True


def test_every_module_imports():
    classification = _has_mmpretrain()
    for name in _modules():
        if name.startswith(f'{PACKAGE}.classification') and not classification:
            continue  # needs mmpretrain + torchvision; tests/classification skips with a reason
        importlib.import_module(name)


def test_segmentation_path_needs_neither_torchvision_nor_mmpretrain():
    """``import msvit_mm``, a segmentation config's model and the Runner import neither."""
    code = (
        'import sys\n'
        'from mmengine.config import Config\n'
        'from mmengine.runner import Runner\n'
        'import msvit_mm\n'
        'from mmseg.registry import MODELS\n'
        'from mmseg.utils import register_all_modules\n'
        'register_all_modules()\n'
        "cfg = Config.fromfile('configs/msvit/msvit-t_upernet_1xb8-800_synthetic-ade20k-128x128.py')\n"
        'MODELS.build(cfg.model)\n'
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torchvision', 'mmpretrain')))\n")
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, 'PYTHONPATH': ROOT}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == '[]', out.stdout


def test_no_import_cycle_and_no_benchmark_import():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    into_benchmarks = {n: sorted(m for m in deps if m.startswith('benchmarks'))
                       for n, deps in graph.items()}
    assert not any(into_benchmarks.values()), into_benchmarks
    assert len(graph) > 40 and graph['msvit_mm.datasets.synthetic_ade20k'] >= {
        'msvit_mm.datasets.painting', 'msvit_mm.datasets.ade20k_writer'}
    assert not _cycle(graph), ' -> '.join(_cycle(graph))


def test_the_cycle_finder_finds_one():
    assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == ['a', 'b', 'c', 'a']
    assert _cycle({'a': {'b'}, 'b': set(), 'c': {'a', 'b'}}) == []
