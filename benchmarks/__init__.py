"""Benchmarks and studies of msvit-mm, apart from the plugin (as mmseg keeps ``projects/``).

Run from the repository root, e.g. ``python benchmarks/gate/run.py``; the scripts put the
root on ``sys.path``. Benchmarks import ``msvit_mm``; the package never imports them.
"""
