"""What every gate loss shares: its weight, its key in the losses dict, the input check and
the gathering over ranks."""
import torch
from torch import Tensor, nn

from msvit_mm.ops.checks import check_non_negative
from msvit_mm.ops.distributed import gather_with_grad


class BaseGateLoss(nn.Module):
    """Base of the gate losses: ``loss_weight``, ``loss_name`` and ``gather``.

    Args:
        loss_weight: multiplies the loss (>= 0).
        loss_name: key in the losses dict; must start with ``loss`` (mmseg sums those).
        gather: gather the gate outputs of all ranks first (``gather_with_grad``), so the
            statistics are over the global batch; the local part's gradient is scaled by the
            world size so that, after DDP averages the gradients, the update is that of one
            process on the whole batch (see ``msvit_mm.ops.distributed``).
    """

    def __init__(self, loss_weight: float, loss_name: str, gather: bool = False) -> None:
        super().__init__()
        if not (isinstance(loss_name, str) and loss_name.startswith('loss')):
            raise ValueError(f"loss_name must be a str starting with 'loss' (mmseg only "
                             f'backpropagates those), got {loss_name!r}')
        self.loss_weight = check_non_negative('loss_weight', loss_weight)
        self.gather = gather
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def prepare(self, gate_probs: Tensor) -> Tensor:
        """Check [B, Hc, Wc], cast to >= float32, gather over ranks if asked: [B_global, Hc, Wc].

        The losses compute in float32 (float64 if given), whatever the input's dtype (e.g.
        float16 under mixed precision).
        """
        if not isinstance(gate_probs, Tensor) or gate_probs.dim() != 3:
            shape = tuple(gate_probs.shape) if isinstance(gate_probs, Tensor) else type(gate_probs)
            raise ValueError(f'gate_probs must be a [B, Hc, Wc] tensor, got {shape}')
        if not gate_probs.is_floating_point() or gate_probs.shape[0] == 0:
            raise ValueError(f'gate_probs must be a non-empty float tensor, got dtype '
                             f'{gate_probs.dtype}, shape {tuple(gate_probs.shape)}')
        x = gate_probs.to(torch.promote_types(gate_probs.dtype, torch.float32))
        return gather_with_grad(x, scale_grad_by_world_size=True) if self.gather else x
