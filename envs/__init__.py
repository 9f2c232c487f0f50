"""rlkit's own Gymnasium environments, registered on import.

Importing :mod:`rlkit.envs` registers:

* ``rlkit/Rooms-v0``: :class:`~rlkit.envs.rooms.RoomsEnv`, the six-room "Q-learning step by
  step" example (``max_episode_steps=100``, intended ``gamma=0.8``).
* ``rlkit/RandomWalk-v0``: :class:`~rlkit.envs.random_walk.RandomWalkEnv`, the 5-state random
  walk of Sutton & Barto Example 6.2 (``max_episode_steps=1000``).

Use them with ``gymnasium.make("rlkit/Rooms-v0")`` or ``gymnasium.make_vec(...)``.
"""

from __future__ import annotations

import gymnasium

from .random_walk import RandomWalkEnv
from .rooms import RoomsEnv

__all__ = ["RandomWalkEnv", "RoomsEnv"]

# Entry points are strings (not the classes) so that subprocesses, e.g. of
# ``gymnasium.make_vec(..., vectorization_mode="async")``, import the module themselves.
_ENVS: dict[str, tuple[str, int]] = {
    "rlkit/Rooms-v0": ("rlkit.envs.rooms:RoomsEnv", 100),
    "rlkit/RandomWalk-v0": ("rlkit.envs.random_walk:RandomWalkEnv", 1000),
}

for _env_id, (_entry_point, _max_steps) in _ENVS.items():
    # Registering an id twice makes Gymnasium warn about overriding it; this happens when the
    # module is imported again (importlib.reload, or the test runner re-importing it).
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point=_entry_point, max_episode_steps=_max_steps)
