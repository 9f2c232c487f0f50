"""Configs: typed dataclasses filled from YAML defaults, per-env overrides and the command line.

Resolution order (later wins): dataclass defaults < ``configs/<algo>.yaml`` ``defaults`` <
``configs/<algo>.yaml`` ``envs[<env_id>]`` < ``--config FILE`` < ``--set key=value`` and flags.
YAML is read with ``yaml.safe_load``; ``--set`` values are parsed as YAML scalars/lists and then
checked against the field's type, so nothing from a config is ever evaluated as code.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from rlkit.errors import ConfigError

MEMORY_TORSOS = ("lstm", "gru", "rnn", "attention")
"""approximator types whose features carry a state from step to step"""


@dataclass
class ApproximatorConfig:
    """Which torso maps observations to features (heads sit on top)."""

    type: Literal["mlp", "cnn", "linear", "autoencoder", "vae", "lstm", "gru", "rnn",
                  "attention"] = "mlp"
    """torso kind: feed-forward, an ``mlp``, a ``cnn`` (image observations), ``linear`` (a
    fixed feature map under the linear heads), or the encoder of an ``autoencoder`` or ``vae``
    whose decoder adds an auxiliary loss; with memory, a recurrent ``lstm``, ``gru`` or
    (Elman) ``rnn``, or causal self-``attention`` over the last steps of the episode"""
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    """widths of the hidden layers"""
    activation: Literal["tanh", "relu", "elu", "gelu", "leaky_relu", "sigmoid", "silu", "selu",
                        "prelu", "softplus"] = "tanh"
    """nonlinearity between layers"""
    norm: Literal["none", "layer", "batch"] = "none"
    """normalization after each hidden linear (mlp) or convolutional (cnn) layer, before the
    activation: ``layer`` (LayerNorm; over (C, H, W) for a cnn) or ``batch`` (BatchNorm, whose
    running statistics are used, and left alone, while acting and evaluating)"""
    layer_norm: bool = False
    """the same as ``norm: layer`` (kept for older configs)"""
    dropout: float = 0.0
    """dropout probability after each hidden layer (0 disables)"""
    hidden_size: int = 64
    """memory torsos: units of the recurrent cell, or the attention's model width (the size
    of the features)"""
    num_layers: int = 1
    """memory torsos: stacked recurrent layers, or transformer blocks"""
    encoder: ApproximatorConfig | None = None
    """memory torsos: a feed-forward torso applied to each observation first (e.g.
    ``{type: mlp, hidden_sizes: [64]}``); none feeds the observation itself. autoencoder and
    vae: the encoder (mlp or cnn); none builds an mlp for vectors, a cnn for frames, from the
    keys of this config"""
    context: int = 16
    """attention: how many steps of the current episode a step sees, itself included"""
    n_heads: int = 2
    """attention: heads per block (hidden_size must be a multiple)"""
    conv_layers: list[list[int]] | None = None
    """cnn: [channels, kernel, stride] per convolution; none picks the Nature-DQN stack for
    frames of 36 pixels or more a side, else a small 3x3 stack (MinAtar's 10x10 grids)"""
    conv_dense: int | None = None
    """cnn: width of the dense layer after the convolutions; none: 512 (Nature), 128 (small)"""
    features: Literal["raw", "poly", "fourier"] = "raw"
    """linear: the feature map: the observation itself, its monomials up to ``degree``, or
    the Fourier basis of ``order``"""
    degree: int = 2
    """linear, poly features: the highest degree of a monomial"""
    order: int = 3
    """linear, fourier features: the largest coefficient of a basis function per dimension"""
    latent_dim: int = 32
    """autoencoder, vae: the size of the code (the features the heads read)"""
    beta: float = 0.1
    """vae: the weight of KL(q(z|x) || N(0, I)) next to the reconstruction error (a beta-VAE;
    at 1 the code collapses to the prior on sparse frames such as PixelGrid's, KL -> 0)"""
    aux_coef: float = 0.01
    """autoencoder, vae: the weight of the auxiliary loss (reconstruction + beta KL) in the
    agent's loss; the error is summed over pixels, so larger frames want a smaller weight"""
    channels_first: bool | None = None
    """cnn: whether frames are (C, H, W); none guesses from the shape (the channel axis is the
    smaller end)"""

    def validate(self) -> None:
        if min(self.hidden_size, self.num_layers, self.context, self.n_heads, self.degree,
               self.latent_dim) < 1:
            raise ConfigError("config keys 'approximator.hidden_size', 'num_layers', 'context', "
                              "'n_heads', 'degree' and 'latent_dim' must be >= 1")
        if self.beta < 0 or self.aux_coef < 0:
            raise ConfigError("config keys 'approximator.beta' and 'aux_coef' must be >= 0")
        if self.order < 0:
            raise ConfigError(f"config key 'approximator.order' must be >= 0, got {self.order}")
        if self.type == "attention" and self.hidden_size % self.n_heads:
            raise ConfigError(f"config key 'approximator.hidden_size' ({self.hidden_size}) must "
                              f"be a multiple of 'n_heads' ({self.n_heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"config key 'approximator.dropout' must lie in [0, 1), "
                              f"got {self.dropout}")
        if self.encoder is not None and self.encoder.type not in ("mlp", "cnn"):
            raise ConfigError(f"an approximator's encoder must be feed-forward (mlp or cnn), "
                              f"got '{self.encoder.type}'")
        if self.layer_norm and self.norm == "batch":
            raise ConfigError("config keys 'approximator.layer_norm' and 'norm: batch' "
                              "contradict each other; set only 'norm'")
        if self.layer_norm:
            self.norm = "layer"
        for layer in self.conv_layers or []:
            if len(layer) != 3 or min(layer) < 1:
                raise ConfigError(f"config key 'approximator.conv_layers' takes [channels, "
                                  f"kernel, stride] triples of positive integers, got {layer}")


@dataclass
class TrainConfig:
    """Settings every agent shares: environment, seeding, evaluation, logging, device."""

    seed: int = 0
    """one seed for envs, action spaces, numpy and torch"""
    total_timesteps: int = 100_000
    """environment steps to train for (summed over all envs)"""
    n_envs: int = 1
    """number of environments stepped in parallel (Gymnasium vector env)"""
    vectorization: Literal["auto", "sync", "async", "vector_entry_point"] = "auto"
    """sync steps envs in this process; async uses one subprocess per env; vector_entry_point
    uses the env's own numpy-vectorized implementation where Gymnasium has one (CartPole);
    auto picks vector_entry_point for several envs when there is one, else sync"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """extra keyword arguments for gymnasium.make"""
    gamma: float = 0.99
    """discount factor"""
    normalize_obs: bool = False
    """normalize observations with running mean/std (frozen during evaluation)"""
    normalize_reward: bool = False
    """scale rewards by the running std of the discounted return"""
    clip_reward: bool = False
    """learn from sign(r) (Atari's usual reward clipping); episode statistics and evaluation
    keep the game's own score"""
    clip_obs: float = 10.0
    """clip normalized observations to [-clip_obs, clip_obs]"""
    approximator: ApproximatorConfig = field(default_factory=ApproximatorConfig)
    """the torso: observation -> features"""
    eval_freq: int = 10_000
    """evaluate every this many env steps (0: only at the end)"""
    eval_episodes: int = 10
    """episodes per evaluation (run in parallel, deterministic actions)"""
    log_freq: int = 1_000
    """write a metrics row at most every this many env steps"""
    checkpoint_freq: int | None = None
    """write a checkpoint at least every this many env steps, so that a run killed outright
    (SIGKILL, power loss) loses at most this much work on ``--resume``; none: with every
    evaluation; 0: only at the end (and on Ctrl-C or SIGTERM)"""
    device: str = "cpu"
    """torch device: cpu, cuda, cuda:N, mps or auto"""
    torch_threads: int = 1
    """torch intra-op threads while training (small networks run fastest on one; 0 = leave as is)"""
    fast_paths: bool = True
    """use rlkit's hand-written fast paths (rlkit/fast/; the environment variable
    RLKIT_FAST_PATHS=0 turns them off too); false: torch's own operations throughout"""

    def validate(self) -> None:
        """One-line errors for values no agent can train with (agents add their own checks)."""
        for key in ("total_timesteps", "n_envs", "eval_episodes", "log_freq"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key '{key}' must be >= 1, got {getattr(self, key)}")
        if self.checkpoint_freq is not None and self.checkpoint_freq < 0:
            raise ConfigError(f"config key 'checkpoint_freq' must be >= 0 (or none), got "
                              f"{self.checkpoint_freq}")
        for key in ("eval_freq", "torch_threads"):
            if getattr(self, key) < 0:
                raise ConfigError(f"config key '{key}' must be >= 0, got {getattr(self, key)}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"config key 'gamma' must lie in [0, 1], got {self.gamma}")
        if self.clip_obs <= 0:
            raise ConfigError(f"config key 'clip_obs' must be > 0, got {self.clip_obs}")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(tp))
        return f"{origin.__name__}[{args}]"
    return getattr(tp, "__name__", str(tp))


class _NonFinite(ConfigError):
    """A float field given NaN or an infinity."""


def _number(text: str, bad: ConfigError) -> float:
    try:
        return float(text.replace("_", ""))
    except ValueError:
        raise bad from None


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; returns it (ints widen to float)."""
    origin = typing.get_origin(tp)
    bad = ConfigError(f"config key '{key}' expects {_type_name(tp)}, got {value!r}")
    if tp is Any:
        return value
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(
                f"config key '{key}' must be one of {', '.join(map(str, typing.get_args(tp)))}; "
                f"got {value!r}"
            )
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None) and value is None:
                return None
            try:
                return _coerce(value, arg, key)
            except _NonFinite:
                raise  # the number's kind fits; its value is what is wrong
            except ConfigError:
                continue
        raise bad
    if origin is list:
        if not isinstance(value, list | tuple):
            raise bad
        (item_tp,) = typing.get_args(tp)
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        return dict(value)
    if tp in (int, float) and isinstance(value, str):
        value = _number(value, bad)  # YAML 1.1 reads "1e-3" (no dot) as a string
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)  # YAML reads 1e5 as a float
            raise bad
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        if not math.isfinite(value):  # no field takes NaN or an infinity as a setting
            raise _NonFinite(f"config key '{key}' must be a finite number, got {value}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise bad
        return from_dict(tp, value, prefix=f"{key}.")
    raise bad


def from_dict(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a (nested) mapping, rejecting unknown keys and bad types."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            raise ConfigError(
                f"unknown config key '{prefix}{key}'; valid keys: {', '.join(sorted(names))}"
            )
        kwargs[key] = _coerce(value, hints[key], prefix + key)
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if check is not None:
        check()
    return obj


def to_dict(config: Any) -> dict[str, Any]:
    """A plain nested dict (YAML/JSON/W&B friendly) of a config dataclass."""
    return dataclasses.asdict(config)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "env_kwargs":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["a.b=3", "c=[64, 64]"]`` -> ``{"a": {"b": 3}, "c": [64, 64]}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set gives '{part}' a value and also sets keys inside it "
                                  f"({item!r})")
        if isinstance(node.get(leaf), dict) and not isinstance(value, dict):
            raise ConfigError(f"--set gives '{leaf}' a value and also sets keys inside it "
                              f"({item!r})")
        node[leaf] = value
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not UTF-8 text (YAML is)") from None
    except yaml.YAMLError as exc:
        message = f"config file '{path}' is not valid YAML: {exc}".splitlines()[0]
        raise ConfigError(message) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of keys to values")
    return data


def packaged_config(algo: str) -> dict[str, Any]:
    """The ``configs/<algo>.yaml`` shipped with rlkit (``{}`` if there is none)."""
    ref = resources.files("rlkit.configs") / f"{algo}.yaml"
    if not ref.is_file():
        return {}
    data = yaml.safe_load(ref.read_text()) or {}
    return data


SECTIONS = ("defaults", "memory_defaults", "envs")


def _layer(data: dict[str, Any], env_id: str, memory: bool = False) -> dict[str, Any]:
    """A config file may be flat, or hold ``defaults`` and per-env ``envs`` sections, whose
    keys are env ids or patterns (``ALE/*``), and ``memory_defaults``, which go over
    ``defaults`` (under ``envs``) when the torso has ``memory``."""
    if any(section in data for section in SECTIONS):
        extra = set(data) - set(SECTIONS)
        if extra:
            raise ConfigError(
                f"a config with 'defaults'/'memory_defaults'/'envs' sections cannot also hold "
                f"top-level keys: {', '.join(sorted(extra))}"
            )
        merged = dict(data.get("defaults") or {})
        if memory:
            merged = _merge(merged, data.get("memory_defaults") or {})
        for entry in _entries_for(data.get("envs") or {}, env_id):
            merged = _merge(merged, entry or {})
        return merged
    return data


def _entries_for(envs: dict[str, Any], env_id: str) -> list[Any]:
    """The ``envs`` entries that serve ``env_id``, in the order they apply: a pattern's
    (``ALE/*`` serves a family of envs), then the env's own, which goes on top. A user's env
    by ``module:EnvId`` may be listed under either form."""
    name = env_id.rpartition(":")[2]
    entries = [entry for pattern, entry in envs.items()
               if "*" in pattern and fnmatch.fnmatchcase(name, pattern)]
    own = env_id if env_id in envs else name if name in envs else None
    return entries + ([envs[own]] if own is not None else [])


def resolve_config(
    cls: type,
    algo: str,
    env_id: str,
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    default_torso: Callable[[dict[str, Any]], str | None] | None = None,
) -> Any:
    """Merge packaged defaults, per-env tuning, a user file and overrides into ``cls``.

    Where none of them picks the torso (``approximator.type``), ``default_torso(env_kwargs)``
    may name one for the env (``rlkit.make`` gives frames the CNN); else it is the config
    class's own default, the MLP. Where the torso that results has memory, each file's
    ``memory_defaults`` join in over its ``defaults``: a memory torso learns from short whole
    sequences that a feed-forward one's defaults (one env's 2048-step rollout as one sequence)
    do not give it."""
    packaged = packaged_config(algo)
    user = read_yaml(config_file) if config_file is not None else {}

    def merged(memory: bool) -> dict[str, Any]:
        values = _layer(packaged, env_id, memory)
        if config_file is not None:
            values = _merge(values, _layer(user, env_id, memory))
        return _merge(values, overrides or {})

    values = merged(memory=False)
    has_torso = any(f.name == "approximator" for f in dataclasses.fields(cls))
    if has_torso and default_torso is not None and "type" not in (values.get("approximator")
                                                                     or {}):
        torso = default_torso(values.get("env_kwargs") or {})
        if torso is not None:
            overrides = _merge(overrides or {}, {"approximator": {"type": torso}})
            values = merged(memory=False)
    approximator = values.get("approximator")
    if isinstance(approximator, dict) and approximator.get("type") in MEMORY_TORSOS:
        values = merged(memory=True)
    return from_dict(cls, values)


def tuned_envs(algo: str) -> list[str]:
    """Env ids with tuned values in ``configs/<algo>.yaml``."""
    return sorted((packaged_config(algo).get("envs") or {}).keys())


def has_tuned_entry(algo: str, env_id: str) -> bool:
    """Whether ``configs/<algo>.yaml`` has an entry for ``env_id``, its own or a pattern's."""
    return bool(_entries_for(packaged_config(algo).get("envs") or {}, env_id))


@dataclass
class PolicyGradientConfig(TrainConfig):
    """Settings PPO, A2C and REINFORCE share (each keeps its own learning rate and extras)."""

    anneal_lr: bool = False
    """decay the learning rate linearly to 0 over training"""
    ent_coef: float = 0.0
    """entropy bonus coefficient c_e"""
    vf_coef: float = 0.5
    """value loss coefficient c_v"""
    max_grad_norm: float = 0.5
    """clip the global gradient norm to this"""
    share_torso: bool = False
    """one torso for actor and critic (else two of the same shape)"""
    log_std_init: float = 0.0
    """initial log std of the Gaussian policy (Box actions)"""
