"""The 5-state random walk for studying TD prediction (Sutton & Barto, Example 6.2).

Five non-terminal states A-E lie in a row between two terminal states::

    [left end]  A  B  C  D  E  [right end]
       0        0  0  0  0  0      +1      <- reward for the transition into the state

Spaces
------
* observation: ``Discrete(5)``, the non-terminal state, ``A=0, B=1, C=2, D=3, E=4``.
* action: ``Discrete(2)``. It exists only so that ordinary agents can interact with the
  env; **the dynamics ignore it** (this is a prediction problem, not a control problem).

Dynamics
--------
* Every episode starts in C (= 2).
* Each step moves one state left or right with probability 1/2 each, drawn from
  ``self.np_random`` so that ``reset(seed=...)`` makes an episode reproducible.
* Leaving on the right (from E) gives reward +1 and terminates; leaving on the left (from A)
  gives reward 0 and terminates; every other step gives reward 0.
* The observation space has no terminal state, so on termination the returned observation
  is the last non-terminal state (A after a left exit, E after a right exit). Prediction
  agents must bootstrap with ``V(terminal) = 0`` using the ``terminated`` flag, never with
  the value of that observation.
* The registered ``rlkit/RandomWalk-v0`` truncates episodes after 1000 steps (far longer
  than any realistic episode; the mean length from C is 9 steps).

True values
-----------
With ``gamma = 1`` the value of a state is the probability of leaving on the right from it:
``V(A..E) = 1/6, 2/6, 3/6, 4/6, 5/6``, exposed as :attr:`RandomWalkEnv.TRUE_VALUES`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces


class RandomWalkEnv(gymnasium.Env[int, int]):
    """Five states A-E, start in C, move left/right at random; +1 for leaving on the right.

    See the module docstring for the details and the true state values.
    """

    # Text rendering has no frame rate, but Gymnasium's checker expects one to be declared.
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    N_STATES: ClassVar[int] = 5
    START: ClassVar[int] = 2  # C
    STATE_NAMES: ClassVar[str] = "ABCDE"
    #: True state values of A-E under gamma = 1 (probability of a right exit).
    TRUE_VALUES: ClassVar[np.ndarray] = np.arange(1, N_STATES + 1, dtype=np.float64) / (
        N_STATES + 1
    )
    # Shared by every instance and read by agents/tests: guard against in-place edits.
    TRUE_VALUES.setflags(write=False)

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(self.N_STATES)
        self.action_space = spaces.Discrete(2)
        self._state = self.START

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self._state = self.START
        return self._state, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        # The action is validated (to catch agent bugs) but otherwise ignored on purpose.
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r} for {self.action_space}")
        move = 1 if self.np_random.random() < 0.5 else -1
        nxt = self._state + move
        if nxt >= self.N_STATES:
            # Right exit: the only rewarded transition. Keep the observation at E.
            return self._state, 1.0, True, False, {}
        if nxt < 0:
            # Left exit: reward 0. Keep the observation at A.
            return self._state, 0.0, True, False, {}
        self._state = nxt
        return self._state, 0.0, False, False, {}

    def render(self) -> str | None:
        if self.render_mode is None:
            gymnasium.logger.warn(
                "Calling render without a render mode; pass render_mode='ansi' to the env."
            )
            return None
        cells = [
            f"[{name}]" if i == self._state else f" {name} "
            for i, name in enumerate(self.STATE_NAMES)
        ]
        return "|" + "".join(cells) + "|"
