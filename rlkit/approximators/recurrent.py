"""Recurrent torsos from the notes: the Elman RNN, the LSTM and the GRU, on an optional
feed-forward encoder.

    h_t = cell(e(o_t), h_{t-1}),  features_t = h_t (the top layer's output),

with h (and the LSTM's cell c) reset to zero where an episode starts. ``unroll`` makes one call
of torch's multi-step ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` for a whole rollout: each env's
stretch of steps up to its next episode start is a sequence of its own.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rlkit.approximators.base import State
from rlkit.approximators.mlp import MemoryInput
from rlkit.config import ApproximatorConfig

# rlkit's FlatOptimizer makes every parameter a view into one flat tensor, so on CUDA the cell's
# weights are not cuDNN's own packed buffer and cuDNN copies them (a few hundred KB) at each
# call. That is expected for every memory agent on a GPU, not a user's mistake, so the warning
# is silenced.
warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")

CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RecurrentTorso(MemoryInput):
    """obs -> encoder (optional MLP) -> ``num_layers`` recurrent layers of ``hidden_size``."""

    def __init__(self, obs_space: gym.Space, config: ApproximatorConfig) -> None:
        super().__init__(obs_space, config)
        self.core = CELLS[config.type](self.in_dim, config.hidden_size, config.num_layers)
        # Orthogonal recurrent and input weights (a norm-preserving recurrence at the start of
        # training), zero biases, except an LSTM's forget gate: bias 1 keeps f near 0.73 rather
        # than 0.5, so a cue survives more than a few steps (Jozefowicz et al., 2015).
        for name, weight in self.core.named_parameters():
            if name.startswith("weight"):
                nn.init.orthogonal_(weight, 1.0)
            else:
                nn.init.zeros_(weight)
                if config.type == "lstm" and name.startswith("bias_ih"):
                    size = config.hidden_size
                    nn.init.ones_(weight[size : 2 * size])  # gates i, f, g, o: f
        self.is_lstm = config.type == "lstm"
        self.num_layers, self.out_dim = config.num_layers, config.hidden_size

    def initial_state(self, n_envs: int) -> State:
        """Zeros, shaped (num_layers, n_envs, hidden_size): h, and c for an LSTM."""
        weight = next(self.core.parameters())
        zeros = weight.new_zeros(self.num_layers, n_envs, self.out_dim)
        return (zeros, zeros.clone()) if self.is_lstm else (zeros,)

    def unroll(
        self, obs: torch.Tensor, state: State, episode_starts: torch.Tensor,
        with_state: bool = True,
    ) -> tuple[torch.Tensor, State]:
        """Observations (T, B, ...), the state before step 0 and episode starts (T, B) ->
        features (T, B, hidden_size) and the state after step T - 1 (``with_state=False``:
        the caller drops it, and it comes back empty)."""
        steps, batch = obs.shape[:2]
        inputs = self._encode(obs.flatten(0, 1)).view(steps, batch, -1)
        starts = episode_starts.to(torch.bool)
        keep = (~starts[0]).to(inputs.dtype).view(1, batch, 1)
        state = tuple(s * keep for s in state)  # the initial state is zero
        if steps == 1 or not bool(starts[1:].any()):  # no episode starts inside: one call
            return self._cell(inputs, state)
        return self._unroll_episodes(inputs, state, starts, with_state)

    def _cell(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        out, new_state = self.core(inputs, state if self.is_lstm else state[0])
        return out, new_state if self.is_lstm else (new_state,)

    def _unroll_episodes(
        self, inputs: torch.Tensor, state: State, starts: torch.Tensor, with_state: bool
    ) -> tuple[torch.Tensor, State]:
        """One cell call for a rollout whose envs start episodes inside it: every stretch of an
        env's column up to its next start (a segment) becomes a sequence of its own, from the
        env's state for the first one and from zeros for the others, padded to the longest.

        A call per distinct start time instead costs ~7 calls over a 64-step rollout of
        8-step episodes, three times as long (forward and backward). Padding after a segment's
        end leaves its outputs as they are but not its final state, so where the state is
        wanted the segments are packed (``pack_padded_sequence``), else only padded: torch's
        packed cell is the slower one on the CPU.
        """
        steps, batch, width = inputs.shape
        first = starts.clone()
        first[0] = True  # every column opens a segment at step 0
        opens = first.T.reshape(-1)  # env-major: (env, step) -> env * steps + step
        segment = torch.cumsum(opens.long(), 0) - 1  # the segment of every (env, step)
        begins = torch.nonzero(opens).flatten()  # where each segment opens
        position = torch.arange(len(opens), device=opens.device) - begins[segment]
        lengths = torch.bincount(segment)
        longest = int(lengths.max())
        padded = inputs.new_zeros(longest, len(begins), width).index_put(
            (position, segment), inputs.transpose(0, 1).reshape(-1, width))
        env = torch.div(begins, steps, rounding_mode="floor")
        carried = (begins % steps == 0).to(inputs.dtype).view(1, -1, 1)  # zero from a start
        initial = tuple(s[:, env] * carried for s in state)
        if with_state:
            packed = pack_padded_sequence(padded, lengths.cpu(), enforce_sorted=False)
            out, final = self._cell(packed, initial)
            out = pad_packed_sequence(out)[0]
            last = segment.view(batch, steps)[:, -1]  # each env's last segment
            final = tuple(s[:, last] for s in final)
        else:
            out, final = self._cell(padded, initial)[0], ()
        # back to (step, env) order, gathered in that order: a contiguous result (a transposed
        # view would meet the heads' products with other strides, which round otherwise)
        time_major = torch.arange(len(opens), device=opens.device).view(batch, steps).T.flatten()
        features = out[position[time_major], segment[time_major]].view(steps, batch, -1)
        return features, final
