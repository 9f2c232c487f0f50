"""``rlkit check-env ENV``: Gymnasium's env checker and rlkit's own checks, as one table.

Each check gives a row (check, ok, detail):

* **gymnasium check_env**: Gymnasium's checker on the env as rlkit builds it (its spaces, the
  types ``reset`` and ``step`` return, seeding), unwrapped of rlkit's own preprocessing; its
  warnings become the detail;
* **observation dtype / in space**: what ``reset`` and ``step`` return lies in the observation
  space, in its dtype (a float64 array from a float32 Box costs a copy on every step and
  breaks bit-identical resumes);
* **reward, flags**: finite float rewards, bool ``terminated`` and ``truncated``;
* **seeding**: two resets with one seed, then the same seeded actions, give the same
  observations and rewards (what resuming and comparing runs rely on);
* **one row per agent**: whether it takes the env's spaces; where it does not, its own
  one-line reason.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rlkit.errors import RlkitError
from rlkit.training.environment import check_env_id, make_env
from rlkit.training.registry import agent_names, make

STEPS = 64
"""env steps each rollout of the seeding check takes"""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def check_env(env_id: str, seed: int = 0, steps: int = STEPS) -> list[Check]:
    """Every check on ``env_id`` (a registered id or ``module:Id``), in the table's order."""
    check_env_id(env_id)
    env = make_env(env_id)
    try:
        checks = [_gymnasium_checker(env, seed)]
        checks += _values(env, seed, steps)
        checks.append(_seeding(env_id, seed, steps))
    finally:
        env.close()
    checks += [_agent_takes(algo, env_id) for algo in agent_names()]
    return checks


def _gymnasium_checker(env: gym.Env, seed: int) -> Check:
    from gymnasium.utils.env_checker import check_env as gymnasium_check

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gymnasium_check(env.unwrapped, skip_render_check=True)
        except Exception as exc:  # noqa: BLE001 - the checker asserts in many ways
            return Check("gymnasium check_env", False, f"{type(exc).__name__}: {exc}")
    env.reset(seed=seed)  # the checker leaves the env stepped; the checks below start afresh
    notes = sorted({_plain(str(w.message).splitlines()[0]) for w in caught})
    return Check("gymnasium check_env", True, "; ".join(notes) or "no warnings")


def _values(env: gym.Env, seed: int, steps: int) -> list[Check]:
    space = env.observation_space
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    observations, rewards, flags = [obs], [], []
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        observations.append(obs)
        rewards.append(reward)
        flags.append((terminated, truncated))
        if terminated or truncated:
            observations.append(env.reset()[0])
    outside = [o for o in observations if not space.contains(o)]
    dtype = getattr(space, "dtype", None)
    wrong_dtype = [o for o in observations if dtype is not None and isinstance(o, np.ndarray)
                   and o.dtype != dtype]
    bad_rewards = [r for r in rewards if not isinstance(r, int | float | np.number)
                   or not np.isfinite(r)]
    bad_flags = [f for f in flags if not all(isinstance(x, bool | np.bool_) for x in f)]
    n = len(observations)
    return [
        Check("observation space", True, str(space)),
        Check("observations in space", not outside,
              f"{n - len(outside)} of {n}" + (f"; e.g. {_short(outside[0])}" if outside else "")),
        Check("observation dtype", not wrong_dtype,
              f"{dtype}" if not wrong_dtype else
              f"the space says {dtype}, the env returns {wrong_dtype[0].dtype}"),
        Check("action space", True, str(env.action_space)),
        Check("rewards finite numbers", not bad_rewards,
              f"{len(rewards)} steps" + (f"; e.g. {bad_rewards[0]!r}" if bad_rewards else "")),
        Check("terminated, truncated are bools", not bad_flags,
              f"{len(flags)} steps" + (f"; e.g. {bad_flags[0]!r}" if bad_flags else "")),
    ]


def _rollout(env_id: str, seed: int, steps: int) -> list[Any]:
    env = make_env(env_id)
    try:
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        trace = [obs]
        for _ in range(steps):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            trace += [obs, reward]
            if terminated or truncated:
                trace.append(env.reset()[0])
        return trace
    finally:
        env.close()


def _seeding(env_id: str, seed: int, steps: int) -> Check:
    first, second = _rollout(env_id, seed, steps), _rollout(env_id, seed, steps)
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        if not _equal(a, b):
            return Check("seeding", False, f"two runs seeded {seed} differ at item {index} "
                                           f"({_short(a)} vs {_short(b)})")
    return Check("seeding", True, f"two runs seeded {seed} agree over {steps} steps")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def _agent_takes(algo: str, env_id: str) -> Check:
    # the smallest agent of each kind: only the checks of its spaces and torso matter here
    small = {"n_envs": 1, "buffer_size": 64, "learning_starts": 1, "n_steps": 8,
             "batch_size": 8}
    try:
        from rlkit.training.registry import agent_class

        fields = set(agent_class(algo).Config.__dataclass_fields__)
        make(algo, env_id, **{key: value for key, value in small.items() if key in fields})
    except RlkitError as exc:
        return Check(f"agent {algo}", False, str(exc).splitlines()[0])
    return Check(f"agent {algo}", True, "takes these spaces")


def _plain(message: str) -> str:
    """A Gymnasium warning without its colour codes and ``WARN:`` prefix."""
    return re.sub(r"\x1b\[[0-9;]*m", "", message).removeprefix("WARN: ")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
