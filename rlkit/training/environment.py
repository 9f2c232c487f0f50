"""Environment construction and seeding.

Every agent trains on a Gymnasium vector env built by :func:`make_vec_env` with *next-step*
autoreset (Gymnasium 1.x's default): the step that ends an episode returns the true final
observation, and the env's following step only resets it (reward 0, no transition to learn
from). The rollout and replay buffers mark that autoreset step invalid.
"""

from __future__ import annotations

import difflib
import importlib
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from rlkit.errors import RlkitError


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` inside the block (0: left as is), then restored.

    Results depend on it: the QR decomposition behind orthogonal initialization, for one, rounds
    differently on one thread and on two. So agents build their networks and train on the
    configured count, and a seed gives the same run whatever the caller's thread setting.
    """
    previous = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check_env_id(env_id: str) -> gym.envs.registration.EnvSpec:
    """The spec of ``env_id``, or a one-line error naming close matches.

    ``module:EnvId`` (Gymnasium's form for a user's own envs) imports ``module`` first, whose
    import registers ``EnvId``; rlkit keeps the whole string as the env id, so that a loaded
    checkpoint or an async worker process imports the module again.
    """
    import rlkit.envs  # noqa: F401  registers rlkit's own envs

    module, _, name = env_id.rpartition(":")
    _register_pixel_envs(name)
    if module:
        try:
            importlib.import_module(module)
        except Exception as exc:  # the user's module may fail in any way while importing
            raise RlkitError(
                f"env id '{env_id}': could not import module '{module}' "
                f"({type(exc).__name__}: {exc})"
            ) from None
    try:
        return gym.spec(name)
    except gym.error.Error:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise RlkitError(
            f"unknown env id '{env_id}'{hint} (`rlkit list` shows registered envs)"
        ) from None


# Pixel env families, so that `rlkit train ppo ALE/Pong-v5` works without an import: ale-py
# registers its ids when imported (only when one is asked for); MinAtar's are registered here,
# with a time limit its own registration lacks (a deterministic policy that never loses
# Breakout's ball would otherwise evaluate forever).
PIXEL_PACKAGES = {"ALE/": ("ale_py", "ale-py"), "MinAtar/": ("minatar", "minatar")}
MINATAR_GAMES = ["asterix", "breakout", "freeway", "seaquest", "space_invaders"]
MINATAR_MAX_STEPS = 10_000


def _register_pixel_envs(name: str) -> None:
    for prefix, (module, package) in PIXEL_PACKAGES.items():
        if not name.startswith(prefix) or name in gym.registry:
            continue
        try:
            importlib.import_module(module)
        except ImportError:
            raise RlkitError(f"'{name}' needs the package {package} "
                             f"(pip install {package})") from None
        if prefix == "MinAtar/":
            for game in MINATAR_GAMES:  # v0: every action; v1: the game's minimal set
                for version, minimal in (("v0", False), ("v1", True)):
                    gym.register(f"MinAtar/{game.title().replace('_', '')}-{version}",
                                 entry_point="minatar.gym:BaseEnv",
                                 max_episode_steps=MINATAR_MAX_STEPS,
                                 kwargs={"game": game, "use_minimal_action_set": minimal})


def is_atari(spec: gym.envs.registration.EnvSpec) -> bool:
    return isinstance(spec.entry_point, str) and spec.entry_point.startswith("ale_py")


ATARI_STACK = 4


def atari_wrappers(env: gym.Env) -> gym.Env:
    """The usual Atari preprocessing (Machado et al. 2018's protocol, as in SB3 and CleanRL):
    up to 30 no-op actions at reset, 4 frames per action with the last two max-pooled, 84x84
    grayscale, and the last 4 frames stacked: observations (4, 84, 84) uint8. A lost life does
    not end the episode, so an episode's return is the game's score."""
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84,
                                          terminal_on_life_loss=False, grayscale_obs=True)
    return gym.wrappers.FrameStackObservation(env, ATARI_STACK)


def _standard_wrappers(spec: gym.envs.registration.EnvSpec, kwargs: dict[str, Any]) -> list:
    """Wrappers an env id gets without asking (Atari's preprocessing), and the kwargs they
    need (frame skipping moves from the emulator into the wrapper)."""
    if not is_atari(spec):
        return []
    kwargs.setdefault("frameskip", 1)
    return [atari_wrappers]


def make_vec_env(
    env_id: str,
    n_envs: int,
    seed: int | None,
    vectorization: str = "auto",
    env_kwargs: dict[str, Any] | None = None,
    render_mode: str | None = None,
) -> gym.vector.VectorEnv:
    """A seeded vector env with next-step autoreset (episode statistics: ``EnvRunner``)."""
    spec = check_env_id(env_id)
    kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    wrappers = _standard_wrappers(spec, kwargs)
    if vectorization == "auto":
        # A natively vectorized env steps 8 CartPoles ~1.5x faster than 8 wrapped ones, but
        # one of them more slowly than a single wrapped env. (ALE's own vector env preprocesses
        # differently from the wrappers above, which evaluation uses too: not picked.)
        native = spec.vector_entry_point is not None and n_envs > 1 and not wrappers
        vectorization = "vector_entry_point" if native else "sync"
    if vectorization == "vector_entry_point" and spec.vector_entry_point is None:
        raise RlkitError(
            f"'{env_id}' has no vectorized implementation (vector_entry_point); "
            "use vectorization sync or async"
        )
    # Custom vector envs take no vector_kwargs; they declare their autoreset mode instead.
    vector_kwargs: dict[str, Any] = {}
    if vectorization != "vector_entry_point":
        vector_kwargs["autoreset_mode"] = AutoresetMode.NEXT_STEP
    with _construction_errors(env_id, kwargs):
        env = gym.make_vec(
            env_id,
            num_envs=n_envs,
            vectorization_mode=vectorization,
            vector_kwargs=vector_kwargs or None,
            wrappers=wrappers or None,
            **kwargs,
        )
    if env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP) != AutoresetMode.NEXT_STEP:
        env.close()
        raise RlkitError(f"'{env_id}' vector env does not use next-step autoreset")
    if seed is not None:
        env.action_space.seed(seed)
        env.single_action_space.seed(seed)
    return env


@contextmanager
def _construction_errors(env_id: str, env_kwargs: dict[str, Any] | None) -> Iterator[None]:
    """An env that does not take ``env_kwargs``, or lacks a package, as a one-line error."""
    try:
        yield
    except TypeError as exc:  # an env_kwargs key the env does not take
        raise RlkitError(f"could not make '{env_id}' with env_kwargs {env_kwargs}: {exc}") from None
    except gym.error.DependencyNotInstalled as exc:
        raise RlkitError(f"'{env_id}' needs an extra package: {exc}") from None


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """One ``env_id`` env; a one-line error when the env does not take ``env_kwargs``."""
    spec = check_env_id(env_id)
    kwargs = dict(env_kwargs or {})
    wrappers = _standard_wrappers(spec, kwargs)
    with _construction_errors(env_id, env_kwargs):
        env = gym.make(env_id, **kwargs)
    for wrapper in wrappers:
        env = wrapper(env)
    return env


def gives_action_masks(env_id: str, env_kwargs: dict[str, Any] | None = None) -> bool:
    """Whether ``env_id``'s first observation comes with ``info["action_mask"]``."""
    env = make_env(env_id, env_kwargs)
    try:
        return "action_mask" in env.reset(seed=0)[1]
    finally:
        env.close()


def single_spaces(env_id: str, env_kwargs: dict[str, Any] | None = None):
    """Observation and action space of one ``env_id`` env, without keeping the env."""
    env = make_env(env_id, env_kwargs)
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()
