"""Causal self-attention over the last ``context`` steps of the current episode: the notes'
transformer block as a memory torso.

Each step becomes a token: ``x_t = W e(o_t) + PE(p_t)``, with ``e`` the optional encoder and
``PE`` the sinusoidal encoding of ``p_t``, the step's index within its episode. Each of
``num_layers`` blocks computes, with post-norm as in the notes,

    z = LayerNorm(x + MultiHeadAttention(x, x, x, mask)),   x' = LayerNorm(z + FFN(z)),

where step t may attend to step s only if s <= t, t - s < context and no episode starts in
(s, t]. Through the stack a step's features depend on the last ``(context - 1) * num_layers
+ 1`` steps of its episode; the state carries that many past tokens of the current episode (and
the next step's index), so acting step by step and replaying a rollout at once give the same
features.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from torch import nn

from rlkit.approximators.base import State
from rlkit.approximators.mlp import MemoryInput
from rlkit.config import ApproximatorConfig


def sinusoidal_encoding(positions: torch.Tensor, width: int) -> torch.Tensor:
    """PE(p)_{2i} = sin(p / 10000^(2i / width)), PE(p)_{2i+1} = cos(...): positions (...) ->
    (..., width)."""
    i = torch.arange(0, width, 2, dtype=torch.float32, device=positions.device)
    angles = positions.to(torch.float32)[..., None] / torch.pow(10000.0, i / width)
    encoding = torch.zeros(*positions.shape, width, device=positions.device)
    encoding[..., 0::2] = torch.sin(angles)
    encoding[..., 1::2] = torch.cos(angles[..., : width // 2])
    return encoding


def attention_mask(episode: torch.Tensor, valid: torch.Tensor, context: int) -> torch.Tensor:
    """Which keys each query may see: (B, L, L), True where step i may attend to step j.

    ``episode`` (L, B) numbers the episodes along the sequence, ``valid`` (L, B) marks real
    tokens. Allowed: j <= i (no future), i - j < context, the same episode, a valid key. A
    token always sees itself, so no row is empty (an invalid token's output is never used).
    """
    length = episode.shape[0]
    index = torch.arange(length, device=episode.device)
    offset = index[:, None] - index[None, :]  # i - j
    causal = (offset >= 0) & (offset < context)
    ep = episode.T  # (B, L)
    same = ep[:, :, None] == ep[:, None, :]
    allowed = causal[None] & same & valid.T[:, None, :]
    return allowed | torch.eye(length, dtype=torch.bool, device=episode.device)[None]


class Block(nn.Module):
    """Attention, add & norm, feed-forward, add & norm."""

    def __init__(self, width: int, n_heads: int) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(width, n_heads)
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.feed_forward = nn.Sequential(
            nn.Linear(width, 2 * width), nn.ReLU(), nn.Linear(2 * width, width)
        )

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """x (L, B, width); ``blocked`` (B * heads, L, L), True where attention is not allowed."""
        attended, _ = self.attention(x, x, x, attn_mask=blocked, need_weights=False)
        z = self.norm1(x + attended)
        return self.norm2(z + self.feed_forward(z))


class AttentionTorso(MemoryInput):
    """obs -> encoder (optional MLP) -> token embedding + position -> ``num_layers`` blocks."""

    def __init__(self, obs_space: gym.Space, config: ApproximatorConfig) -> None:
        super().__init__(obs_space, config)
        self.embed = nn.Linear(self.in_dim, config.hidden_size)
        self.blocks = nn.ModuleList(
            Block(config.hidden_size, config.n_heads) for _ in range(config.num_layers)
        )
        self.context, self.n_heads = config.context, config.n_heads
        self.out_dim = config.hidden_size
        # block k's output at step t reads block k - 1's at t - context + 1 .. t
        self.memory = (config.context - 1) * config.num_layers

    def initial_state(self, n_envs: int) -> State:
        """(tokens (memory, n_envs, width), valid (memory, n_envs), next position (1, n_envs)):
        no past tokens, the next step is an episode's first."""
        weight = self.embed.weight
        past = self.memory
        return (weight.new_zeros(past, n_envs, self.out_dim), weight.new_zeros(past, n_envs),
                weight.new_zeros(1, n_envs))

    def unroll(
        self, obs: torch.Tensor, state: State, episode_starts: torch.Tensor,
        with_state: bool = True,
    ) -> tuple[torch.Tensor, State]:
        """Observations (T, B, ...), the state before step 0 and episode starts (T, B) ->
        features (T, B, width) and the state after step T - 1."""
        steps, batch = obs.shape[:2]
        past_tokens, past_valid, next_position = state
        starts = episode_starts.to(torch.bool)
        # Each step's index within its episode: one more than the step before, 0 at a start.
        positions, position = [], next_position[0]
        for t in range(steps):
            position = torch.where(starts[t], torch.zeros_like(position), position)
            positions.append(position)
            position = position + 1
        positions = torch.stack(positions)  # (T, B)
        tokens = self.embed(self._encode(obs.flatten(0, 1))).view(steps, batch, -1)
        tokens = tokens + sinusoidal_encoding(positions, self.out_dim)
        sequence = torch.cat([past_tokens, tokens])
        # Past tokens belong to episode 0 (the one running when the state was saved); every
        # start opens the next episode.
        past = past_tokens.shape[0]
        episode = torch.cat([starts.new_zeros(past, batch, dtype=torch.long),
                             torch.cumsum(starts.long(), 0)])
        valid = torch.cat([past_valid.to(torch.bool), starts.new_ones(steps, batch)])
        blocked = ~attention_mask(episode, valid, self.context)
        blocked = blocked.repeat_interleave(self.n_heads, dim=0)  # (B * heads, L, L)
        x = sequence
        for block in self.blocks:
            x = block(x, blocked)
        # The next call sees the last `memory` tokens, if they are of the current episode.
        keep = sequence[-past:] if past else sequence[:0]
        keep_valid = (valid & (episode == episode[-1:]))[-past:] if past else valid[:0]
        new_state = (keep, keep_valid.to(sequence.dtype), position[None].to(sequence.dtype))
        return x[past:], new_state
