"""rlkit's own Gymnasium environments, registered on import.

Importing :mod:`rlkit.envs` registers:

* ``rlkit/Rooms-v0``: :class:`~rlkit.envs.rooms.RoomsEnv`, the six-room "Q-learning step by
  step" example (``max_episode_steps=100``, intended ``gamma=0.8``).
* ``rlkit/RandomWalk-v0``: :class:`~rlkit.envs.random_walk.RandomWalkEnv`, the 5-state random
  walk of Sutton & Barto Example 6.2 (``max_episode_steps=1000``).
* ``rlkit/PixelGrid-v0``: :class:`~rlkit.envs.pixels.PixelGridEnv`, reach a goal on a small
  grid seen as a 20x20 RGB image (return 1 on success, else 0).
* ``rlkit/Chain-v0``: :class:`~rlkit.envs.chain.ChainEnv`, a chain of ``n`` states (20)
  whose far end alone pays: a deep-exploration test.
* ``rlkit/CartPoleNoVel-v0``, ``rlkit/PendulumNoVel-v0``, ``rlkit/Recall-v0`` and
  ``rlkit/TMaze-v0`` (:mod:`rlkit.envs.memory`): tasks that need memory (CartPole and
  Pendulum without their velocities, 500 and 200 steps; a cue to report after ``delay``
  steps, default 10; a cue that says which way to turn at the end of a corridor of
  ``length`` steps, default 6, truncated after ``3 (length + 1)`` steps).

* ``rlkit/Keypad-v0`` and ``rlkit/Switches-v0`` (:mod:`rlkit.envs.keypad`): actions of
  several parts, MultiDiscrete and MultiBinary: type the code shown (16 steps, return up to 16).
* ``rlkit/GoalGrid-v0`` and ``rlkit/GoalImage-v0`` (:mod:`rlkit.envs.goals`): Dict
  observations, a goal to reach on a 5x5 grid: ``{position, goal}`` vectors, or the agent seen
  in a small image with the goal as a vector beside it (optimum 0.85).
* ``rlkit/CartPoleFixedHorizon-v0``: :class:`~rlkit.envs.fixed_horizon.CartPoleFixedHorizonEnv`,
  CartPole for imitation learning: never terminated, always 500 steps, reward 1 while the pole
  is up and the cart on the track, else 0 (the episode length cannot leak the reward).

Use them with ``gymnasium.make("rlkit/Rooms-v0")`` or ``gymnasium.make_vec(...)``.
"""

from __future__ import annotations

import gymnasium

from .chain import ChainEnv
from .fixed_horizon import CartPoleFixedHorizonEnv
from .goals import GoalGridEnv, GoalImageEnv
from .keypad import KeypadEnv
from .memory import CartPoleNoVelEnv, PendulumNoVelEnv, RecallEnv, TMazeEnv
from .pixels import PixelGridEnv
from .random_walk import RandomWalkEnv
from .rooms import RoomsEnv

__all__ = ["CartPoleFixedHorizonEnv", "CartPoleNoVelEnv", "ChainEnv", "GoalGridEnv",
           "GoalImageEnv", "KeypadEnv", "PendulumNoVelEnv", "PixelGridEnv", "RandomWalkEnv",
           "RecallEnv", "RoomsEnv", "TMazeEnv"]

# Entry points are strings (not the classes) so that subprocesses, e.g. of
# ``gymnasium.make_vec(..., vectorization_mode="async")``, import the module themselves.
_ENVS: dict[str, tuple[str, int | None]] = {
    "rlkit/Rooms-v0": ("rlkit.envs.rooms:RoomsEnv", 100),
    "rlkit/RandomWalk-v0": ("rlkit.envs.random_walk:RandomWalkEnv", 1000),
    "rlkit/CartPoleNoVel-v0": ("rlkit.envs.memory:CartPoleNoVelEnv", 500),
    "rlkit/PendulumNoVel-v0": ("rlkit.envs.memory:PendulumNoVelEnv", 200),
    # delay + 2 steps per episode; the limit only guards a changed delay
    "rlkit/Recall-v0": ("rlkit.envs.memory:RecallEnv", 1000),
    "rlkit/TMaze-v0": ("rlkit.envs.memory:TMazeEnv", None),  # truncates itself
    "rlkit/PixelGrid-v0": ("rlkit.envs.pixels:PixelGridEnv", None),  # truncates itself
    "rlkit/Chain-v0": ("rlkit.envs.chain:ChainEnv", None),  # truncates itself (n + 9 steps)
    "rlkit/Keypad-v0": ("rlkit.envs.keypad:KeypadEnv", None),  # truncates itself (16 steps)
    "rlkit/GoalGrid-v0": ("rlkit.envs.goals:GoalGridEnv", None),  # truncates itself (4 size)
    "rlkit/GoalImage-v0": ("rlkit.envs.goals:GoalImageEnv", None),
    # never terminates: the TimeLimit ends every episode at step 500
    "rlkit/CartPoleFixedHorizon-v0": ("rlkit.envs.fixed_horizon:CartPoleFixedHorizonEnv", 500),
}

_KWARGS: dict[str, dict] = {"rlkit/Switches-v0": {"binary": True}}
_ENVS["rlkit/Switches-v0"] = ("rlkit.envs.keypad:KeypadEnv", None)

for _env_id, (_entry_point, _max_steps) in _ENVS.items():
    # Registering an id twice makes Gymnasium warn about overriding it; this happens when the
    # module is imported again (importlib.reload, or the test runner re-importing it).
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point=_entry_point, max_episode_steps=_max_steps,
                           kwargs=_KWARGS.get(_env_id, {}))
