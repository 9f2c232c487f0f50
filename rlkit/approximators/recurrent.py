"""Recurrent torsos from the notes: the Elman RNN, the LSTM and the GRU, on an optional
feed-forward encoder.

    h_t = cell(e(o_t), h_{t-1}),  features_t = h_t (the top layer's output),

with h (and the LSTM's cell c) reset to zero where an episode starts. ``unroll`` runs torch's
multi-step ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` over each stretch of steps in which no episode
starts, so a rollout costs one call per distinct reset time rather than one per step.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import torch
from torch import nn

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
        self, obs: torch.Tensor, state: State, episode_starts: torch.Tensor
    ) -> tuple[torch.Tensor, State]:
        """Observations (T, B, ...), the state before step 0 and episode starts (T, B) ->
        features (T, B, hidden_size) and the state after step T - 1."""
        steps, batch = obs.shape[:2]
        inputs = self._encode(obs.flatten(0, 1)).view(steps, batch, -1)
        starts = episode_starts.to(torch.bool)
        # Where some env starts an episode the stretch ends; one cell call per stretch.
        reset_times = torch.nonzero(starts.any(1)).flatten().tolist()
        bounds = sorted({0, steps, *reset_times})
        features = []
        for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
            keep = (~starts[begin]).to(inputs.dtype).view(1, batch, 1)
            state = tuple(s * keep for s in state)  # the initial state is zero
            out, new_state = self.core(inputs[begin:end], state if self.is_lstm else state[0])
            state = new_state if self.is_lstm else (new_state,)
            features.append(out)
        return torch.cat(features), state
