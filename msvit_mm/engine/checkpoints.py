"""Reading checkpoint files without running code from them, and checking that they fit a model.

A ``.pth`` file is a pickle, and unpickling can call any function the file names (a
``__reduce__`` that calls ``os.system``). :func:`load_checkpoint_file` therefore reads every
local file with ``torch.load(weights_only=True)``: tensors, containers, numbers and strings,
plus the few types an mmengine Runner checkpoint holds besides (:data:`RUNNER_CHECKPOINT_TYPES`:
mmengine's ``HistoryBuffer`` in ``message_hub`` and numpy arrays/scalars), allowed only inside
this call (``torch.serialization.safe_globals``). Pretrained ViTs (timm/DeiT, Hugging Face,
mmseg, mmpretrain), our converter's output and our own training checkpoints (``load_from``,
``--resume``, testing) all load that way. Anything else is refused with an error naming the
file, the type it wanted and the opt-in: ``MSVIT_TRUST_CHECKPOINTS=1`` in the environment
unpickles fully, for files you trust as you would trust a script. A file whose weights hold
NaN or Inf is refused too, naming the first such keys (:func:`check_finite`): a diverged
run's checkpoint would otherwise be tested, fine-tuned or converted without a word.

:func:`check_weights_fit` compares a checkpoint's state dict with a model's and raises,
naming the first keys that are missing, unexpected or of another shape; the test and analysis
tools and ``load_from`` use it (pretrained backbones have their own report instead, see
``msvit_mm/models/backbones/pretrained.py``).
"""
import os
import os.path as osp
import pickle
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ['TRUST_ENV', 'RUNNER_CHECKPOINT_TYPES', 'load_checkpoint_file',
           'UnsafeCheckpointError', 'checkpoint_state_dict', 'check_weights_fit',
           'load_weights_strict', 'NonFiniteCheckpointError', 'check_finite',
           'check_checkpoint_path', 'parse_prefixes']

TRUST_ENV = 'MSVIT_TRUST_CHECKPOINTS'


def _history_buffer_statistic(obj: Any, name: str) -> Any:
    """Stands in for ``getattr`` while unpickling: mmengine's message hub pickles its
    ``HistoryBuffer`` statistics methods as ``getattr(HistoryBuffer, 'mean')``; any other
    ``getattr`` is refused."""
    from mmengine.logging import HistoryBuffer
    # the defaults are registered only when a first buffer is made; others by register_statistics
    allowed = {'min', 'max', 'current', 'mean'} | set(getattr(HistoryBuffer, '_statistics_methods',
                                                              {}))
    if obj is HistoryBuffer and name in allowed:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: getattr on {type(obj).__name__} {name!r} (only the statistics '
        "methods of mmengine's HistoryBuffer are allowed)")


def _runner_checkpoint_types() -> List[Any]:
    """The classes and functions (besides torch's defaults) that an mmengine Runner checkpoint
    pickles: ``message_hub`` holds ``HistoryBuffer`` objects of numpy arrays and numpy scalars
    (loss values, learning rates) and the buffer's statistics methods (``getattr`` on the
    class, replaced by :func:`_history_buffer_statistic`); our ``RNGStateHook`` stores numpy's
    generator state (an uint32 array). None of them runs code when rebuilt from the file."""
    from mmengine.logging import HistoryBuffer
    core = getattr(np, '_core', None) or np.core  # numpy 2 renamed numpy.core
    types = [HistoryBuffer, np.ndarray, np.dtype, core.multiarray._reconstruct,
             core.multiarray.scalar, (_history_buffer_statistic, 'builtins.getattr')]
    # numpy >= 1.25 pickles dtypes as their classes (numpy.dtypes.Float64DType, ...)
    types += [type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64,
                                          np.uint8, np.uint16, np.uint32, np.uint64,
                                          np.float16, np.float32, np.float64)]
    return list(dict.fromkeys(types))


RUNNER_CHECKPOINT_TYPES = _runner_checkpoint_types()


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs more than tensors-only unpickling, and the user did not opt in."""


def _trusted() -> bool:
    return os.environ.get(TRUST_ENV, '').strip().lower() in ('1', 'true', 'yes')


def load_checkpoint_file(filename: str, map_location=None) -> Any:
    """``torch.load`` a local file, tensors-only unless ``MSVIT_TRUST_CHECKPOINTS=1``.

    Registered as mmengine's loader for local paths (``msvit_mm.engine.compat``), so
    ``load_from``, ``--resume``, ``tools/test.py``, ``pretrained`` and the tools all read
    files through it.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: the path is a folder (its checkpoints are listed).
        UnsafeCheckpointError: the file pickles something other than weights and the opt-in
            is not set; the message names the file, torch's reason and the opt-in.
        RuntimeError: the file is not a readable torch checkpoint (truncated, foreign format).
        NonFiniteCheckpointError: a weight holds NaN or Inf (the first keys are named).
    """
    filename = osp.expanduser(filename)
    check_checkpoint_path(filename)
    vouched = False
    try:
        with torch.serialization.safe_globals(RUNNER_CHECKPOINT_TYPES):
            checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if _trusted():
            vouched = True  # the user vouched for the file: full unpickling below
        elif _is_refusal(err):
            raise UnsafeCheckpointError(_refusal(filename, err)) from None
        else:  # 'Unsupported operand': not a pickle at all, or one written unusually
            raise _unreadable(filename, err, note=f' (If it is a checkpoint you trust, '
                              f'{TRUST_ENV}=1 unpickles it fully.)') from None
    except Exception as err:  # corrupted, truncated or not a torch file
        raise _unreadable(filename, err) from err
    if vouched:  # MSVIT_TRUST_CHECKPOINTS=1: full unpickling
        checkpoint = torch.load(filename, map_location=map_location, weights_only=False)
    check_finite(checkpoint, filename)
    return checkpoint


def check_checkpoint_path(filename: str) -> None:
    """Raise unless ``filename`` is a file: a folder is named as one, with its checkpoints."""
    if osp.isdir(filename):
        found = sorted(f for f in os.listdir(filename) if f.endswith(('.pth', '.pt', '.bin')))
        hint = (f'; it holds {found[:5]}{" ..." if len(found) > 5 else ""}' if found
                else '; it holds no .pth file')
        raise IsADirectoryError(f'checkpoint path {filename!r} is a directory, not a '
                                f'checkpoint file{hint}')
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')


class NonFiniteCheckpointError(ValueError):
    """A checkpoint's weights hold NaN or Inf."""


def nonfinite_keys(checkpoint: Any) -> List[str]:
    """The keys of the floating-point weights of ``checkpoint`` (its state dict: under
    ``state_dict`` / ``model`` / ``module`` or at the top) that hold NaN or Inf."""
    state = checkpoint
    for key in ('state_dict', 'model', 'module'):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping):
        return []
    return [k for k, v in state.items() if isinstance(v, Tensor)
            and (v.is_floating_point() or v.is_complex()) and not bool(torch.isfinite(v).all())]


def check_finite(checkpoint: Any, filename: str, num_shown: int = 5) -> None:
    """Raise :class:`NonFiniteCheckpointError` naming the first weights that hold NaN/Inf."""
    bad = nonfinite_keys(checkpoint)
    if bad:
        more = f' (and {len(bad) - num_shown} more)' if len(bad) > num_shown else ''
        raise NonFiniteCheckpointError(
            f'checkpoint {filename!r} holds non-finite weights (NaN or Inf) in {len(bad)} '
            f'tensor(s): {bad[:num_shown]}{more}. A model with them predicts nothing '
            'meaningful; was it saved from a diverged run? Use an earlier checkpoint.')


def _is_refusal(err: BaseException) -> bool:
    """Whether torch's weights-only unpickler refused a type or function (not a bad file)."""
    text = str(err).lower()
    return any(s in text for s in ('unsupported global', 'unsupported class', 'is blocked'))


def _unreadable(filename: str, err: BaseException, note: str = '') -> RuntimeError:
    reason = _last_line(err)
    return RuntimeError(
        f'cannot read checkpoint {filename!r}: {type(err).__name__}: {reason}. '
        'Is it a complete PyTorch checkpoint (not truncated, not a foreign format)?' + note)


def _last_line(err: BaseException) -> str:
    """The informative line of torch's long messages ('Unsupported global: ...', 'Trying to
    load unsupported GLOBAL posix.system whose module posix is blocked.' etc.)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if line.startswith(('WeightsUnpickler error:', 'Unsupported', 'Trying to load')):
            return line.replace('WeightsUnpickler error: ', '')
    return lines[-1] if lines else ''


def _refusal(filename: str, err: BaseException) -> str:
    what = _last_line(err).split(' Please use')[0].rstrip('.')
    return (f'refused to unpickle checkpoint {filename!r}: torch\'s weights-only loader says '
            f'"{what}". Only tensors, plain containers and the types of mmengine training '
            'checkpoints are read by default, because unpickling anything else can run code '
            'from the file. Convert it to a plain state dict where you trust it: '
            "torch.save({'state_dict': model.state_dict()}, path); or, only if you trust "
            f'this file as you would trust a script, set {TRUST_ENV}=1 in the environment to '
            'unpickle it fully.')


def checkpoint_state_dict(checkpoint: Any, filename: str) -> Dict[str, Tensor]:
    """The tensors of a checkpoint (under ``state_dict``, ``model`` or at the top), with a
    ``module.`` prefix taken off as mmengine does."""
    state = checkpoint
    for key in ('state_dict', 'model'):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping):
        raise ValueError(f'{filename}: expected a checkpoint dict, got {type(checkpoint).__name__}')
    state = {k: v for k, v in state.items() if isinstance(v, Tensor)}
    if state and all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def describe_checkpoint(checkpoint: Any, state: Mapping[str, Tensor]) -> str:
    """One line on what a checkpoint holds: top-level keys, tensor count, first keys."""
    top = list(checkpoint)[:6] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
    prefixes = sorted({k.split('.')[0] for k in state})[:8]
    return (f'The checkpoint holds top-level keys {top}, {len(state)} tensors under the '
            f'prefixes {prefixes}, e.g. {list(state)[:3]}')


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP / TTA wrappers (as mmengine's ``load_state_dict`` does)."""
    from mmengine.model import BaseTTAModel, is_model_wrapper
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


def parse_prefixes(value: Any, name: str) -> Tuple[str, ...]:
    """A config option listing key prefixes: a list or tuple of non-empty strings, or one
    string (one prefix, e.g. from ``--cfg-options name=backbone.tokenizer.gate.``); None is
    none. Anything else raises ``TypeError`` naming the option."""
    if value is None:
        return ()
    prefixes = (value,) if isinstance(value, str) else value
    if not isinstance(prefixes, (list, tuple)) or not all(
            isinstance(p, str) and p for p in prefixes):
        raise TypeError(f'{name} must be a list of key prefixes (non-empty strings, e.g. '
                        f"['backbone.tokenizer.gate.', 'gate_losses.']) or one prefix string; "
                        f'got {value!r} ({type(value).__name__})')
    return tuple(prefixes)


def key_mismatch_lines(groups, num_shown: int = 10, show=', '.join) -> List[str]:
    """One line per non-empty ``(what, keys)`` group: ``'N weight(s) WHAT: KEYS (and M
    more)'``, the first ``num_shown`` keys written by ``show`` (a list -> str)."""
    lines = []
    for what, keys in groups:
        if keys:
            more = f' (and {len(keys) - num_shown} more)' if len(keys) > num_shown else ''
            lines.append(f'{len(keys)} weight(s) {what}: {show(keys[:num_shown])}{more}')
    return lines


def check_weights_fit(model: nn.Module, checkpoint: Any, filename: str, num_shown: int = 5,
                      missing_ok: Sequence[str] = (),
                      option: str = 'missing_ok') -> Dict[str, Tensor]:
    """Raise ``ValueError`` unless ``checkpoint`` has exactly the model's weights, all finite.

    Args:
        model: the model (DDP / TTA wrappers are looked through).
        checkpoint: what :func:`load_checkpoint_file` returned.
        filename: named in the error.
        num_shown: how many keys of each kind the error names.
        missing_ok: prefixes of model weights the checkpoint may lack (they keep their
            initialization), e.g. ``backbone.tokenizer.gate.`` when a gate is added to a
            trained ViT. A string is one prefix (:func:`parse_prefixes`).
        option: the name ``missing_ok`` has in the user's config, for its error.

    Returns:
        the checkpoint's state dict (``module.`` prefix removed).
    """
    missing_ok = parse_prefixes(missing_ok, option)
    check_finite(checkpoint, filename)  # local files were checked on reading; URLs here
    state = checkpoint_state_dict(checkpoint, filename)
    expected = _unwrap(model).state_dict()
    missing = [k for k in expected if k not in state
               and not any(k.startswith(p) for p in missing_ok)]
    unexpected = [k for k in state if k not in expected]
    shapes = [f'{k}: checkpoint {list(state[k].shape)} vs model {list(v.shape)}'
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if not (missing or unexpected or shapes):
        return state
    parts = key_mismatch_lines((('missing from the checkpoint', missing),
                                ('not in the model', unexpected), ('of another shape', shapes)),
                               num_shown, show=str)
    raise ValueError(
        f'checkpoint {filename!r} does not fit the model {type(_unwrap(model)).__name__} of '
        f'this config ({len(expected)} weights): ' + '; '.join(parts) + '. '
        + describe_checkpoint(checkpoint, state) + '. Is it a checkpoint of this config '
        '(same backbone depth and width, heads, classes)?')


def load_weights_strict(model: nn.Module, filename: str, map_location: Optional[str] = 'cpu'
                        ) -> nn.Module:
    """Load ``filename``'s weights into ``model``; every weight must be there, fit and be
    finite."""
    checkpoint = load_checkpoint_file(filename, map_location=map_location)  # checks the path
    state = check_weights_fit(model, checkpoint, filename)
    _unwrap(model).load_state_dict(state, strict=True)
    return model
