"""The six-room building from the course notes ("Q-learning step by step").

A building has five rooms, numbered 0-4, and the outside, numbered 5. Doors connect
some rooms to each other and rooms 1 and 4 open to the outside. The agent starts in a
random room and must find its way out; the outside (room 5) is the goal.

Spaces
------
* observation: ``Discrete(6)``, the room the agent is in.
* action: ``Discrete(6)``, the room the agent wants to move to.

Rewards and doors
-----------------
Both are given by the matrix ``R`` (rows: from, columns: to); ``-1`` means there is no door::

            to:  0    1    2    3    4    5
    from 0    [ -1,  -1,  -1,  -1,   0,  -1 ]
    from 1    [ -1,  -1,  -1,   0,  -1, 100 ]
    from 2    [ -1,  -1,  -1,   0,  -1,  -1 ]
    from 3    [ -1,   0,   0,  -1,   0,  -1 ]
    from 4    [  0,  -1,  -1,   0,  -1, 100 ]
    from 5    [ -1,   0,  -1,  -1,   0, 100 ]

It is available as the class attribute :attr:`RoomsEnv.R` (read-only ``np.ndarray`` of ints).

Dynamics
--------
* ``reset`` puts the agent in a room drawn uniformly from 0-4 (``self.np_random``, so
  ``reset(seed=...)`` is reproducible). ``reset(options={"start": k})`` with ``k`` in 0-4
  starts in room ``k`` instead, which is handy for tests and for exploring starts.
* An allowed action ``a`` (``R[s, a] != -1``) moves the agent to room ``a`` with reward
  ``R[s, a]``. Entering room 5 terminates the episode (``terminated=True``).
* A disallowed action (no door) is a no-op: the agent stays where it is and gets reward 0.
  The episode goes on, so the env stays valid for agents that ignore masks; agents that
  want to respect the doors read ``info["action_mask"]`` (``np.int8`` array of shape
  ``(6,)``, 1 where ``R[s, a] != -1``), which both ``reset`` and ``step`` return.
* The registered ``rlkit/Rooms-v0`` truncates episodes after 100 steps.

Model
-----
The dynamics are also given as a table, in the format of Gymnasium's toy-text envs
(FrozenLake, CliffWalking, Taxi), for planners and model-based agents (``maxent_irl``):
``env.unwrapped.P[s][a]`` is the list ``[(probability, next_state, reward, terminated)]`` of
what ``step`` does from room ``s`` (one deterministic entry here), and
``env.unwrapped.initial_state_distrib`` is the distribution ``reset`` draws the first room from
(0.2 for each of rooms 0-4). Both are built from ``R`` by :meth:`RoomsEnv.transition_model`;
``step`` does not read them, so they describe the dynamics without being able to change them.

Discount and the notes' Q table
-------------------------------
The intended discount is ``gamma = 0.8`` (the config sets it). Under it the optimal
action values (see :meth:`RoomsEnv.optimal_q`) are the notes' normalised table::

            to:  0    1     2    3    4    5
    from 0    [  0,   0,    0,   0,  80,   0 ]
    from 1    [  0,   0,    0,  64,   0, 100 ]
    from 2    [  0,   0,    0,  64,   0,   0 ]
    from 3    [  0,  80,  51.2,  0,  80,   0 ]
    from 4    [ 64,   0,    0,  64,   0, 100 ]
    from 5    [  0,  80,    0,   0,  80, 100 ]

(disallowed actions shown as 0, as in the notes). The notes treat room 5 as an ordinary,
absorbing state, so their raw table has ``Q(5, 5) = 100 + 0.8 * Q(5, 5) = 500`` and
everything else scaled by 5 too; normalising by the maximum gives the table above. Here
the episode terminates on *entering* room 5, so a learning agent never acts in state 5
and never learns row 5 of the table. Row 5 is still well defined by the Bellman equation
with the terminal convention (entering room 5 is worth ``R[s, 5]`` and nothing after),
e.g. ``Q(5, 5) = R[5, 5] = 100`` and ``Q(5, 1) = 0 + 0.8 * max_a Q(1, a) = 80``. If ``step``
is called again after the episode ended in room 5 (which Gymnasium leaves undefined), the
env simply follows row 5 of ``R`` with the same rules, consistent with that convention.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces


def _read_only(array: np.ndarray) -> np.ndarray:
    # Class attributes are shared by every instance (and by agents that read them), so an
    # accidental in-place edit would silently change the environment for everyone.
    array.setflags(write=False)
    return array


class RoomsEnv(gymnasium.Env[int, int]):
    """Six rooms, the action is the room to move to; room 5 (outside) is the goal.

    See the module docstring for the reward matrix, the dynamics and the discount.
    """

    # Text rendering has no frame rate, but Gymnasium's checker expects one to be declared.
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    #: Rewards and doors: ``R[from, to]``, ``-1`` where there is no door.
    R: ClassVar[np.ndarray] = _read_only(
        np.array(
            [
                [-1, -1, -1, -1, 0, -1],
                [-1, -1, -1, 0, -1, 100],
                [-1, -1, -1, 0, -1, -1],
                [-1, 0, 0, -1, 0, -1],
                [0, -1, -1, 0, -1, 100],
                [-1, 0, -1, -1, 0, 100],
            ],
            dtype=np.int64,
        )
    )
    N_ROOMS: ClassVar[int] = 6
    GOAL: ClassVar[int] = 5
    #: Rooms an episode may start in (every room but the goal).
    START_ROOMS: ClassVar[tuple[int, ...]] = (0, 1, 2, 3, 4)

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(self.N_ROOMS)
        self.action_space = spaces.Discrete(self.N_ROOMS)
        self._room = 0
        # The model in toy-text form (see the module docstring), as FrozenLake's attributes.
        self.P = self.transition_model()
        self.initial_state_distrib = np.isin(np.arange(self.N_ROOMS), self.START_ROOMS) / len(
            self.START_ROOMS)

    @classmethod
    def action_mask_for(cls, room: int) -> np.ndarray:
        """1 for each action that has a door from ``room``, else 0 (``np.int8``, shape (6,))."""
        # A fresh array every call: agents may keep or modify it without affecting the env.
        return (cls.R[room] != -1).astype(np.int8)

    @classmethod
    def transition_model(cls) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        """``P[s][a] = [(1.0, s', r, terminated)]``, what ``step`` does from room ``s``.

        A door (``R[s, a] != -1``) leads to room ``a`` with reward ``R[s, a]``; no door leaves
        the agent in ``s`` with reward 0. Being in room 5 after the move ends the episode.
        """
        model: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
        for room in range(cls.N_ROOMS):
            model[room] = {}
            for target in range(cls.N_ROOMS):
                door = cls.R[room, target] != -1
                after = target if door else room
                reward = float(cls.R[room, target]) if door else 0.0
                model[room][target] = [(1.0, after, reward, after == cls.GOAL)]
        return model

    @classmethod
    def optimal_q(cls, gamma: float = 0.8, tol: float = 1e-10) -> np.ndarray:
        """Optimal action values ``Q*`` by value iteration, 0 for disallowed actions.

        Uses the episodic convention of this env: entering room 5 ends the episode, so
        ``Q*(s, 5) = R[s, 5]`` and ``Q*(s, a) = R[s, a] + gamma * max Q*(a, .)`` otherwise.
        Row 5 is computed with the same rule (see the module docstring).
        """
        allowed = cls.R != -1
        q = np.zeros(cls.R.shape, dtype=np.float64)
        while True:
            # Value of being in each room; the goal is terminal and worth nothing more.
            v = np.where(allowed, q, -np.inf).max(axis=1)
            v[cls.GOAL] = 0.0
            new_q = np.where(allowed, cls.R + gamma * v[np.newaxis, :], 0.0)
            if np.max(np.abs(new_q - q)) < tol:
                return new_q
            q = new_q

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_mask_for(self._room)}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        start = None if options is None else options.get("start")
        if start is None:
            self._room = int(self.np_random.choice(self.START_ROOMS))
        else:
            if int(start) not in self.START_ROOMS:
                raise ValueError(f"options['start'] must be one of {self.START_ROOMS}, got {start}")
            self._room = int(start)
        return self._room, self._info()

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        target = int(action)
        reward = int(self.R[self._room, target])
        if reward == -1:
            # No door: a no-op rather than an error, so exploring agents that ignore the
            # mask keep a valid episode; reward 0 keeps it neutral (the notes never punish).
            reward = 0
        else:
            self._room = target
        terminated = self._room == self.GOAL
        return self._room, float(reward), terminated, False, self._info()

    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "Calling render without a render mode; pass render_mode='ansi' to the env."
            )
            return None
        return f"room {self._room}"
