from setuptools import find_packages, setup

version = {}
with open('msvit_mm/version.py') as f:
    exec(f.read(), version)

setup(
    name='msvit-mm',
    version=version['__version__'],
    description='MSViT (dynamic mixed-scale tokenization) for MMSegmentation 1.x',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['msvit_mm', 'msvit_mm.*']),
    python_requires='>=3.9',
    # Pinned together; see README "Installation". mmcv must be built with ops
    # (MMCV_WITH_OPS=1, --no-build-isolation): scripts/setup_env.sh does it.
    install_requires=[
        'torch==2.13.0',
        'mmengine==0.10.7',
        'mmcv==2.1.0',
        'mmsegmentation==1.2.2',
        'mmpretrain==1.2.0',
        'numpy',
        'ftfy',
        'regex',
        'setuptools>=77.0.3,<82',
    ],
    extras_require={'tests': ['pytest']},
)
