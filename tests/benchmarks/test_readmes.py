"""The benchmarks' READMEs name files that exist, and link to files that exist."""
import glob
import os.path as osp
import re

from tests.helpers import ROOT

READMES = sorted(glob.glob(osp.join(ROOT, 'benchmarks', '**', 'README.md'), recursive=True))
NAMED = r'(?:benchmarks|configs|tools|scripts|docs)/[\w./+-]+\.(?:py|sh|md|png|json)'
LINK = r'\]\(([^)#]+)\)'


def test_every_named_and_linked_file_exists():
    assert len(READMES) == 6
    missing, checked = [], set()
    for readme in READMES:
        with open(readme, encoding='utf-8') as f:
            text = f.read()
        for name in re.findall(NAMED, text):  # from the root, or from the README's folder
            checked.add(name)
            if not any(osp.exists(osp.join(d, name)) for d in (ROOT, osp.dirname(readme))):
                missing.append((osp.relpath(readme, ROOT), name))
        for link in re.findall(LINK, text):
            if not osp.exists(osp.normpath(osp.join(osp.dirname(readme), link))):
                missing.append((osp.relpath(readme, ROOT), link))
    assert not missing, missing
    assert {'benchmarks/gate/run.py', 'configs/runs.py', 'docs/training_speed.md'} <= checked
