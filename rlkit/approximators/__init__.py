"""The models: torsos, function approximators that map observations to a feature vector, and
the heads that agents put on them (:mod:`~rlkit.approximators.heads`: actor-critic, Q
networks).

May import: ``rlkit.core`` (the heads read its batches), ``rlkit.config``, ``rlkit.errors``,
``rlkit.fast`` and itself; never training, agents or experiments.

Every agent picks its torso from the ``approximator`` config entry and puts its heads on top,
so the same torso serves every algorithm. One module per family, the way ``agents/`` holds one
file per algorithm: :mod:`~rlkit.approximators.mlp`, :mod:`~rlkit.approximators.recurrent`
(LSTM, GRU, RNN), :mod:`~rlkit.approximators.attention`, :mod:`~rlkit.approximators.cnn` and
:mod:`~rlkit.approximators.linear`, :mod:`~rlkit.approximators.autoencoder` (autoencoder and
VAE), and :mod:`~rlkit.approximators.bayes` (Bayesian linear regression, DQN's Thompson head).

The protocol every torso keeps (:mod:`~rlkit.approximators.base`):

* ``out_dim``: the size of the features;
* ``initial_state(n_envs) -> state``: its memory at an episode start (``()`` without memory);
* ``unroll(obs, state, episode_starts) -> (features, state)``: observations shaped
  (T, B, ...) with the state before the first of them; where ``episode_starts[t, b]`` is set
  the state of env ``b`` is reset to the initial state before step ``t``.

Feed-forward torsos also take ``forward(obs) -> features`` on a batch of observations.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
from torch import nn

from rlkit.approximators.attention import AttentionTorso
from rlkit.approximators.autoencoder import AutoencoderTorso, auxiliary_loss
from rlkit.approximators.base import (
    ACTIVATIONS,
    FeedForward,
    State,
    flat_obs_dim,
    orthogonal_init,
)
from rlkit.approximators.cnn import CNN
from rlkit.approximators.linear import LinearFeatures
from rlkit.approximators.mlp import MLP
from rlkit.approximators.recurrent import RecurrentTorso
from rlkit.config import ApproximatorConfig
from rlkit.core.observations import PackedObservations
from rlkit.errors import ConfigError

__all__ = ["ACTIVATIONS", "CNN", "MLP", "AttentionTorso", "AutoencoderTorso", "FeedForward",
           "LinearFeatures", "auxiliary_loss",
           "RecurrentTorso", "State", "TORSOS", "build_torso", "flat_obs_dim",
           "orthogonal_init"]

TORSOS: dict[str, Callable[[gym.Space, ApproximatorConfig], nn.Module]] = {
    "mlp": MLP,
    "cnn": CNN,
    "linear": LinearFeatures,
    "autoencoder": AutoencoderTorso,
    "vae": AutoencoderTorso,
    "lstm": RecurrentTorso,
    "gru": RecurrentTorso,
    "rnn": RecurrentTorso,
    "attention": AttentionTorso,
}


def build_torso(obs_space: gym.Space, config: ApproximatorConfig) -> nn.Module:
    """The torso named by ``config.type`` for ``obs_space``. On a packed (Dict, Tuple, ...)
    observation a ``cnn`` is an ``mlp`` over the multi-input encoder, whose frame entries go
    through this config's convolutions."""
    if config.type not in TORSOS:
        raise ConfigError(
            f"unknown approximator '{config.type}'; choose from: {', '.join(sorted(TORSOS))}"
        )
    if config.type == "cnn" and isinstance(obs_space, PackedObservations):
        return MLP(obs_space, config)
    return TORSOS[config.type](obs_space, config)
