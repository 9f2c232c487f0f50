"""Snapshot and restore the plain-data state of a vector env, for exact ``--resume``.

Gymnasium has no get/set-state API, and pickling envs would make checkpoints unsafe to load.
Instead we walk the wrapper chain of the vector env and of each sub-env (sync vectorization)
and record every attribute that is plain data: numbers, strings, None, numpy arrays, lists,
tuples, dicts and deques of those, and numpy ``Generator`` states (also those of action
spaces). That covers envs whose dynamics live in numpy (classic control, toy text, rlkit's
own). Envs that keep state in foreign objects (a physics engine) or in subprocesses (async
vectorization) are reported as not restorable; resuming them starts fresh episodes.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np

_PLAIN_SCALARS = (bool, int, float, str, type(None), np.generic)


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN_SCALARS):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype != object
    if isinstance(value, list | tuple | deque):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _encode(value: Any) -> Any:
    if isinstance(value, deque):
        return {"__deque__": list(value), "maxlen": value.maxlen}
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "__deque__" in value:
        return deque(value["__deque__"], maxlen=value["maxlen"])
    return value


def _generator(state: dict[str, Any]) -> np.random.Generator:
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _objects(vec_env: gym.vector.VectorEnv) -> tuple[list[Any], bool]:
    """Every object in the env's wrapper chains, and whether sub-envs were reachable."""
    chain: list[Any] = []
    node: Any = vec_env
    while True:
        chain.append(node)
        if not hasattr(node, "env"):
            break
        node = node.env
    base = chain[-1]
    if isinstance(base, gym.vector.AsyncVectorEnv):
        return chain, False  # sub-envs live in other processes
    if not isinstance(base, gym.vector.SyncVectorEnv):
        return chain, True  # a natively vectorized env keeps its state in its own arrays
    for env in base.envs:  # SyncVectorEnv
        node = env
        while True:
            chain.append(node)
            if not hasattr(node, "env"):
                break
            node = node.env
    return chain, True


def _state_of(obj: Any) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for key, value in vars(obj).items():
        if isinstance(value, np.random.Generator):
            state[key] = {"__generator__": value.bit_generator.state}
        elif isinstance(value, gym.Space):
            rng = value.__dict__.get("_np_random")
            if rng is not None:
                state[key] = {"__space_rng__": rng.bit_generator.state}
        elif _plain(value):
            state[key] = _encode(value)
    return state


def snapshot(vec_env: gym.vector.VectorEnv) -> dict[str, Any]:
    """Plain-data state of every wrapper and sub-env; ``complete`` says if it is restorable."""
    objects, complete = _objects(vec_env)
    return {"complete": complete, "objects": [_state_of(obj) for obj in objects]}


def restore(vec_env: gym.vector.VectorEnv, state: dict[str, Any]) -> bool:
    """Write a :func:`snapshot` back; False (nothing written) if the env does not match it."""
    objects, complete = _objects(vec_env)
    if not (complete and state.get("complete")) or len(objects) != len(state["objects"]):
        return False
    for obj, saved in zip(objects, state["objects"], strict=True):
        for key, value in saved.items():
            if isinstance(value, dict) and "__generator__" in value:
                setattr(obj, key, _generator(value["__generator__"]))
            elif isinstance(value, dict) and "__space_rng__" in value:
                getattr(obj, key)._np_random = _generator(value["__space_rng__"])
            else:
                setattr(obj, key, _decode(value))
    return True
