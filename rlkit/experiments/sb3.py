"""rlkit's configs as Stable-Baselines3 keyword arguments: one table per algorithm, key by key.

``rlkit compare`` (and the benchmarks) build SB3's side
from these tables, so both libraries train with the same hyperparameters. Each row maps one
rlkit config key to one SB3 keyword (dotted keys go inside ``policy_kwargs``) and converts the
value: a decayed rate becomes SB3's schedule of ``progress_remaining``, the MLP's sizes become
``net_arch``, its activation the ``nn.Module`` class. A key in no row is either set up the
same on both sides by whoever runs them (``RUN_KEYS``: seed, envs, budget, evaluation, device)
or applied to SB3's env (``ENV_KEYS``: normalization, reward clipping), or reported by
:func:`sb3_kwargs` as unmapped, with the reason, when its value has no SB3
counterpart (DQN's prioritized replay, a shared MLP torso, a memory torso, ...): never dropped
silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from rlkit.approximators.base import ACTIVATIONS
from rlkit.config import MEMORY_TORSOS
from rlkit.errors import RlkitError

MLP = ("mlp",)
CNN = ("cnn",)
MEMORY = MEMORY_TORSOS
"""Torso kinds: an MLP maps to SB3's MlpPolicy, a CNN to its CnnPolicy, a memory torso to
sb3-contrib's RecurrentPPO (an LSTM)."""


class TorsoExtractor(BaseFeaturesExtractor):
    """rlkit's feed-forward torso (the same layers and initialization) as SB3's features
    extractor: how a CNN, or a memory torso's encoder, reaches SB3. It scales uint8 frames by
    1/255 itself, so SB3's policy runs with ``normalize_images=False``."""

    def __init__(self, observation_space: gym.Space, approximator: Any) -> None:
        from rlkit import fast
        from rlkit.approximators import build_torso

        with fast.switch(False):  # SB3 runs the same layers on torch's own kernels
            torso = build_torso(observation_space, approximator)
        super().__init__(observation_space, features_dim=torso.out_dim)
        self.torso = torso

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.torso(obs)

RUN_KEYS = frozenset({
    "seed", "total_timesteps", "n_envs", "vectorization", "env_kwargs", "eval_freq",
    "eval_episodes", "log_freq", "checkpoint_freq", "device", "torch_threads", "fast_paths",
    "frame_sharing",  # how DQN's replay stores frames, not what it samples
})
"""How a run is set up rather than what the agent learns with: a comparison gives both sides the
same seeds, envs, budget, evaluation and device."""


class LinearSchedule:
    """SB3's schedule ``progress_remaining -> progress_remaining * value``: rlkit's anneal_lr /
    anneal_clip_range (progress_remaining is 1 at the start of training, 0 at the end)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.value

    def __repr__(self) -> str:
        return f"linear({self.value:g} -> 0)"


def schedule(value: float, decayed: bool) -> float | LinearSchedule:
    """A constant, or the linear decay to 0 of ``value`` over training."""
    return LinearSchedule(value) if decayed else value


@dataclass(frozen=True)
class Row:
    """rlkit config key(s) -> one SB3 keyword."""

    rlkit: str
    """the config key, as ``--set`` names it (``approximator.hidden_sizes``); rows that also
    read another key name it in ``also``"""
    sb3: str
    """the SB3 keyword; ``policy_kwargs.x`` goes into policy_kwargs"""
    convert: Callable[[Any], Any] | None = None
    """config -> SB3 value (None: the value itself)"""
    also: tuple[str, ...] = ()
    torsos: tuple[str, ...] = (*MLP, *CNN, *MEMORY)
    """the approximator types the row applies to"""


def _same(key: str) -> Row:
    return Row(key, key)


def _mlp_arch(cfg: Any) -> Any:
    sizes = list(cfg.approximator.hidden_sizes)
    return dict(pi=sizes, vf=list(sizes)) if hasattr(cfg, "vf_coef") else sizes


def _activation(cfg: Any) -> type[nn.Module]:
    return ACTIVATIONS[cfg.approximator.activation]


def _encoder(cfg: Any) -> Any:
    """The feed-forward part of the torso SB3 gets as its features extractor: the CNN itself,
    or a memory torso's encoder (none: SB3's own flattening, as rlkit feeds the observation)."""
    return cfg.approximator if cfg.approximator.type in CNN else cfg.approximator.encoder


_NETWORK = [
    Row("approximator.hidden_sizes", "policy_kwargs.net_arch", _mlp_arch, torsos=MLP),
    Row("approximator.activation", "policy_kwargs.activation_fn", _activation, torsos=MLP),
    # A CNN, or a memory torso's encoder, is rlkit's own module inside SB3's policy; the heads
    # (and SB3's LSTM) sit right on its features, as rlkit's do.
    Row("approximator", "policy_kwargs.features_extractor_class",
        lambda c: TorsoExtractor if _encoder(c) is not None else None, torsos=CNN + MEMORY),
    Row("approximator", "policy_kwargs.features_extractor_kwargs",
        lambda c: dict(approximator=_encoder(c)) if _encoder(c) is not None else None,
        torsos=CNN + MEMORY),
    Row("approximator", "policy_kwargs.net_arch", lambda c: [], torsos=CNN + MEMORY),
    Row("approximator", "policy_kwargs.normalize_images", lambda c: False,
        torsos=CNN + MEMORY),
]
_RECURRENT = [
    Row("approximator.hidden_size", "policy_kwargs.lstm_hidden_size", torsos=MEMORY),
    Row("approximator.num_layers", "policy_kwargs.n_lstm_layers", torsos=MEMORY),
    Row("share_torso", "policy_kwargs.shared_lstm", torsos=MEMORY),
    Row("share_torso", "policy_kwargs.enable_critic_lstm", lambda c: not c.share_torso,
        torsos=MEMORY),
]
_POLICY_GRADIENT = [
    *map(_same, ("gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm",
                 "normalize_advantage")),
    Row("learning_rate", "learning_rate", lambda c: schedule(c.learning_rate, c.anneal_lr),
        also=("anneal_lr",)),
    Row("log_std_init", "policy_kwargs.log_std_init"),
    Row("share_torso", "policy_kwargs.share_features_extractor", torsos=CNN + MEMORY),
    *_NETWORK,
]

TABLES: dict[str, list[Row]] = {
    "ppo": [
        *map(_same, ("n_steps", "batch_size", "n_epochs", "clip_range_vf", "target_kl")),
        Row("clip_range", "clip_range", lambda c: schedule(c.clip_range, c.anneal_clip_range),
            also=("anneal_clip_range",)),
        Row("adam_eps", "policy_kwargs.optimizer_kwargs.eps"),
        *_POLICY_GRADIENT,
        *_RECURRENT,
    ],
    "a2c": [
        _same("n_steps"),
        # SB3 replaces optimizer_kwargs when use_rms_prop picks RMSprop itself, so the class
        # and every argument are given explicitly (alpha, eps and no weight decay for RMSprop).
        Row("optimizer", "policy_kwargs.optimizer_class",
            lambda c: _optimizer_class(c.optimizer)),
        Row("optimizer_eps", "policy_kwargs.optimizer_kwargs.eps"),
        Row("rmsprop_alpha", "policy_kwargs.optimizer_kwargs.alpha",
            lambda c: c.rmsprop_alpha if c.optimizer == "rmsprop" else None),
        *_POLICY_GRADIENT,
    ],
    "dqn": [
        *map(_same, ("buffer_size", "batch_size", "learning_starts", "gamma", "train_freq",
                     "gradient_steps", "target_update_interval", "tau", "exploration_fraction",
                     "exploration_initial_eps", "exploration_final_eps")),
        Row("learning_rate", "learning_rate", lambda c: schedule(c.learning_rate, c.anneal_lr),
            also=("anneal_lr",)),
        Row("max_grad_norm", "max_grad_norm",
            lambda c: float("inf") if c.max_grad_norm is None else c.max_grad_norm),
        Row("n_step", "n_steps"),
        Row("adam_eps", "policy_kwargs.optimizer_kwargs.eps"),
        *_NETWORK,
    ],
}
"""rlkit key -> SB3 keyword, per algorithm (PPO, A2C, DQN)."""


def sb3_model(
    algo: str, cfg: Any, observation_space: gym.Space | None = None,
    action_masks: bool = False,
) -> tuple[type, str]:
    """SB3's model class and policy name for ``algo`` with ``cfg``'s torso on
    ``observation_space``: MlpPolicy, CnnPolicy, MultiInputPolicy for a Dict observation,
    sb3-contrib's RecurrentPPO for a memory torso, or its MaskablePPO where the env gives
    ``action_masks``. A one-line error where neither library has the counterpart."""
    import stable_baselines3

    if algo not in TABLES:
        raise RlkitError(f"SB3 has no counterpart of rlkit's '{algo}' (SB3 side: "
                         f"{', '.join(TABLES)}); nothing to compare against")
    kind = cfg.approximator.type
    multi_input = _check_structured(observation_space, kind)
    if action_masks:
        if algo != "ppo" or kind in MEMORY:
            raise RlkitError(f"the env gives action masks, and sb3-contrib's MaskablePPO (a "
                             f"feed-forward PPO) is the only masked agent on SB3's side, not "
                             f"a{' recurrent' if kind in MEMORY else 'n'} {algo.upper()}; "
                             f"nothing to compare against")
        from sb3_contrib import MaskablePPO

        return MaskablePPO, ("MultiInputPolicy" if multi_input
                             else "CnnPolicy" if kind in CNN else "MlpPolicy")
    if kind in MEMORY:
        if algo != "ppo":
            raise RlkitError(f"rlkit's {algo} has a memory torso ('{kind}'), and neither SB3 "
                             f"nor sb3-contrib has a recurrent {algo.upper()} (sb3-contrib: "
                             f"RecurrentPPO only); nothing to compare against")
        from sb3_contrib import RecurrentPPO

        encoder = cfg.approximator.encoder
        cnn = encoder is not None and encoder.type in CNN
        if multi_input:
            return RecurrentPPO, "MultiInputLstmPolicy"
        return RecurrentPPO, "CnnLstmPolicy" if cnn else "MlpLstmPolicy"
    model = getattr(stable_baselines3, algo.upper())
    if multi_input:
        return model, "MultiInputPolicy"
    return model, "CnnPolicy" if kind in CNN else "MlpPolicy"


SB3_NATURE_SIDE = 36
"""The smallest frame side SB3's NatureCNN (8x8 stride 4, 4x4 stride 2, 3x3) takes."""


def _check_structured(space: gym.Space | None, kind: str) -> bool:
    """Whether SB3 needs its MultiInputPolicy (a Dict observation); a one-line error for what
    SB3 cannot take: Tuple or nested Dict observations, frames inside a Dict too small for its
    NatureCNN, a Dict under a cnn torso (SB3's CombinedExtractor is the encoder there)."""
    if isinstance(space, gym.spaces.Tuple):
        raise RlkitError(f"SB3 takes no Tuple observations ({space}); nothing to compare "
                         f"against (a Dict observation maps to its MultiInputPolicy)")
    if not isinstance(space, gym.spaces.Dict):
        return False
    from rlkit.approximators.cnn import image_layout
    from rlkit.core.observations import PackedObservations

    if kind in CNN:
        raise RlkitError("on a Dict observation SB3's MultiInputPolicy is the counterpart of "
                         "rlkit's mlp (its CombinedExtractor puts image entries through a "
                         "CNN); compare with approximator.type mlp")
    for entry in PackedObservations(space).entries:
        if len(entry.path) > 1:
            raise RlkitError(f"SB3's MultiInputPolicy takes a flat Dict; entry "
                             f"'{entry.name}' of {space} is nested")
        if entry.kind == "frames" and min(image_layout(entry.space)[1:3]) < SB3_NATURE_SIDE:
            raise RlkitError(f"SB3's MultiInputPolicy puts image entry '{entry.name}' "
                             f"{entry.shape} through its NatureCNN, which needs "
                             f"{SB3_NATURE_SIDE} pixels or more a side; nothing to compare "
                             f"against")
    return True


def _optimizer_class(name: str) -> type:
    import torch

    return torch.optim.RMSprop if name == "rmsprop" else torch.optim.Adam


def _unmapped(algo: str, cfg: Any) -> dict[str, str]:
    """Keys whose current value SB3 has no counterpart for, with the reason."""
    out: dict[str, str] = {}
    approximator = cfg.approximator
    kind = approximator.type
    if kind not in (*MLP, *CNN, *MEMORY):
        out["approximator.type"] = (f"'{kind}': SB3 has no such policy; it runs its default "
                                    f"MLP (64, 64)")
    elif kind in MEMORY[1:]:
        out["approximator.type"] = (f"'{kind}': sb3-contrib's RecurrentPPO has only an LSTM; "
                                    f"SB3 runs an LSTM of the same size")
    elif kind in MLP and (approximator.norm != "none" or approximator.layer_norm
                          or approximator.dropout):
        out["approximator.norm"] = "SB3's MlpPolicy has no normalization or dropout layers"
    if kind in MLP and getattr(cfg, "share_torso", False):
        out["share_torso"] = "SB3's MlpPolicy shares no hidden layers between pi and V"
    if algo == "dqn":
        for key, reason in (
            ("double_q", "SB3's DQN is not double DQN"),
            ("prioritized", "SB3 has no prioritized replay"),
            ("dueling", "SB3's DQN has no dueling head"),
        ):
            if getattr(cfg, key):
                out[key] = reason
        if cfg.loss != "huber":
            out["loss"] = "SB3's DQN always uses the Huber loss"
        if cfg.q_head != "linear" or cfg.exploration != "epsilon_greedy":
            out["q_head"] = "SB3's DQN has no Bayesian head or Thompson sampling"
    return out


def sb3_kwargs(algo: str, cfg: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(SB3 keyword arguments for ``algo``'s model from rlkit config ``cfg``, the unmapped keys
    with why). Raises KeyError for an algorithm SB3 has no counterpart of here."""
    kwargs: dict[str, Any] = {}
    for row in applicable_rows(algo, cfg):
        value = row.convert(cfg) if row.convert is not None else _read(cfg, row.rlkit)
        if value is None and row.sb3.startswith("policy_kwargs."):
            continue
        target, *path = row.sb3.split(".")
        if not path:
            kwargs[target] = value
            continue
        node = kwargs.setdefault(target, {})
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    if algo == "a2c" and cfg.optimizer == "rmsprop":
        kwargs["policy_kwargs"]["optimizer_kwargs"]["weight_decay"] = 0.0
    return kwargs, _unmapped(algo, cfg)


def applicable_rows(algo: str, cfg: Any) -> list[Row]:
    """``algo``'s rows for ``cfg``'s torso (an MLP's sizes mean nothing to a CNN policy; a
    torso SB3 has no policy for gets SB3's default MLP and is reported unmapped)."""
    kind = cfg.approximator.type
    kind = kind if kind in (*CNN, *MEMORY) else "mlp"
    return [row for row in TABLES[algo] if kind in row.torsos
            and not (kind == "mlp" and cfg.approximator.type != "mlp"
                     and row.rlkit.startswith("approximator"))]


def _read(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def mapped_keys(algo: str) -> set[str]:
    """Every rlkit key a row of ``algo``'s table reads."""
    return {key for row in TABLES[algo] for key in (row.rlkit, *row.also)}


ENV_KEYS = frozenset({"normalize_obs", "normalize_reward", "clip_obs", "clip_reward"})
"""Applied to SB3's env rather than its model, by whoever builds it (``rlkit compare``: SB3's
VecNormalize with the same clip and gamma, and a sign wrapper for clip_reward)."""
JUDGED = frozenset({
    "approximator", "share_torso",
    "double_q", "prioritized", "dueling", "loss", "q_head", "exploration",
})
"""Keys :func:`_unmapped` reports when their value has no SB3 counterpart."""
DEPENDENT = {
    "per_alpha": "prioritized", "per_beta": "prioritized",
    "per_eps": "prioritized", "posterior_update_interval": "q_head", "posterior_sweeps": "q_head",
    "prior_std": "q_head", "noise_std": "q_head",
}
"""Keys that act only when another (judged) key is on: they share its fate."""


def unlisted_keys(algo: str, config_cls: type) -> set[str]:
    """Top-level config keys of ``config_cls`` that no row reads, not in RUN_KEYS, JUDGED or
    DEPENDENT: a key forgotten by the table (a test keeps this empty)."""
    top = {key.split(".")[0] for key in mapped_keys(algo)}
    return ({f.name for f in fields(config_cls)} - top - RUN_KEYS - ENV_KEYS - JUDGED
            - set(DEPENDENT))
