"""The multi-input encoder: a Dict or Tuple observation (packed into rows of bytes by the core,
:mod:`rlkit.core.observations`) -> one feature vector, each entry encoded by its kind and the
results concatenated, in the order of the space's entries:

* frames (an image Box): the CNN (the config's own when it is a ``cnn``, else the default
  stack for the frame size with ReLUs, as SB3's ``CombinedExtractor`` uses NatureCNN);
* any other Box: its values, flattened (the torso's layers sit on top);
* Discrete: one-hot; MultiDiscrete: one one-hot per component, side by side;
* MultiBinary: its 0/1 values as floats.

Every torso reads a packed observation through this encoder: an ``mlp`` puts its hidden layers
on the concatenation, a memory torso its cell, ``linear`` (raw features) takes it as it is.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rlkit.approximators.cnn import CNN
from rlkit.config import ApproximatorConfig
from rlkit.core.observations import Entry, PackedObservations

TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.int64): torch.int64,
                np.dtype(np.uint8): torch.uint8, np.dtype(np.bool_): torch.bool}


def entry_tensor(rows: torch.Tensor, entry: Entry) -> torch.Tensor:
    """Entry ``entry`` of packed rows (N, nbytes) uint8, as its dtype and shape (N, *shape)."""
    chunk = rows[:, entry.offset:entry.offset + entry.nbytes]
    try:  # entries start at multiples of 8 bytes: a view of the row's bytes
        values = chunk.view(TORCH_DTYPES[entry.dtype])
    except RuntimeError:  # rows that are themselves a view at an odd offset
        values = chunk.contiguous().view(TORCH_DTYPES[entry.dtype])
    return values.reshape(len(rows), *entry.shape)


def frames_config(config: ApproximatorConfig) -> ApproximatorConfig:
    """The CNN for frame entries: the config itself when it is a cnn, else the default stack."""
    if config.type == "cnn":
        return config
    return ApproximatorConfig(type="cnn", activation="relu")


class MultiInput(nn.Module):
    """Packed rows (N, nbytes) -> features (N, out_dim) (see the module docstring).

    Like the torsos it splits in two: :meth:`inputs` gives each entry's float code side by
    side (frames as their CNN reads them, flattened; ids one-hot), :meth:`encode_inputs` the
    features of such codes. A gradient penalty differentiates by the codes (a GAN's
    discriminator), never by the packed bytes."""

    def __init__(self, space: PackedObservations, config: ApproximatorConfig) -> None:
        super().__init__()
        self.entries = space.entries
        cnn_config = frames_config(config)
        self.cnns = nn.ModuleDict()
        sizes, widths = [], []
        for i, entry in enumerate(self.entries):
            if entry.kind == "frames":
                cnn = self.cnns[str(i)] = CNN(entry.space, cnn_config)
                sizes.append(cnn.out_dim)
                widths.append(int(np.prod(cnn.feature_shapes[0])))
                continue
            if entry.kind == "discrete":
                sizes.append(int(entry.space.n))
            elif entry.kind == "multi_discrete":
                nvec = np.asarray(entry.space.nvec, dtype=np.int64).reshape(-1)
                # component j's one-hot starts at column starts[j]
                self.register_buffer(f"starts_{i}", torch.as_tensor(
                    np.concatenate([[0], np.cumsum(nvec)[:-1]])), persistent=False)
                sizes.append(int(nvec.sum()))
            else:  # box, binary
                sizes.append(int(np.prod(entry.shape, dtype=np.int64)))
            widths.append(sizes[-1])
        self.out_dim = sum(sizes)
        self.input_widths = widths
        """each entry's width in :meth:`inputs`' codes"""
        self.in_dim = sum(widths)

    def _codes(self, rows: torch.Tensor) -> list[torch.Tensor]:
        """Each entry's float code: frames as their CNN reads them ((C, H, W), scaled), ids
        one-hot (one code per MultiDiscrete component, side by side), values as floats."""
        codes = []
        for i, entry in enumerate(self.entries):
            values = entry_tensor(rows, entry)
            if entry.kind == "frames":
                codes.append(self.cnns[str(i)].inputs(values))
            elif entry.kind == "discrete":
                codes.append(nn.functional.one_hot(values, int(entry.space.n)).float())
            elif entry.kind == "multi_discrete":
                columns = values.reshape(len(rows), -1) + getattr(self, f"starts_{i}")
                size = int(np.sum(entry.space.nvec))
                codes.append(torch.zeros(len(rows), size, device=rows.device)
                             .scatter_(1, columns, 1.0))
            else:  # box, binary
                codes.append(values.reshape(len(rows), -1).float())
        return codes

    def _features(self, codes: list[torch.Tensor]) -> torch.Tensor:
        parts = [self.cnns[str(i)].encode_inputs(code) if entry.kind == "frames" else code
                 for i, (entry, code) in enumerate(zip(self.entries, codes, strict=True))]
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self._features(self._codes(rows))

    def inputs(self, rows: torch.Tensor) -> torch.Tensor:
        """Packed rows (N, nbytes) -> the entries' codes flattened side by side (N, in_dim)."""
        return torch.cat([code.flatten(1) for code in self._codes(rows)], dim=1)

    def encode_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (N, in_dim), as :meth:`inputs` gives them -> features (N, out_dim)."""
        codes = list(x.split(self.input_widths, dim=1))
        for i, entry in enumerate(self.entries):
            if entry.kind == "frames":
                codes[i] = codes[i].reshape(len(x), *self.cnns[str(i)].feature_shapes[0])
        return self._features(codes)
