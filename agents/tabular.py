"""Tabular temporal-difference learning: TD(0) prediction, Q-learning, SARSA, Expected SARSA.

For envs with Discrete actions and Discrete observations (or a Tuple or MultiDiscrete of
Discretes, such as Blackjack's (sum, dealer card, usable ace): one table row per combination,
see :func:`state_index`) the values live in numpy tables and every env step is learned from at
once (online TD). With step size eta and TD target y,

    TD(0):           V(s) <- V(s) + eta [y - V(s)],       y = r + gamma V(s')
    Q-learning:      Q(s, a) <- Q(s, a) + eta [y - Q(s, a)], y = r + gamma max_b Q(s', b)
    SARSA:           y = r + gamma Q(s', a'),              a' ~ pi(.|s') the next action taken
    Expected SARSA:  y = r + gamma sum_b pi(b|s') Q(s', b)

The four agents share everything (acting, schedules, masks, checkpoints, the update) except
the one small function that computes y. ``terminated`` cuts the bootstrap (the value of a
terminal state is 0); ``truncated`` does not: with next-step autoreset the step's ``next_obs``
is the true final observation and y bootstraps from it. The autoreset step that follows the
end of an episode (``valid=False``) is never learned from.

Control agents act epsilon-greedily in Q (epsilon decays linearly, ties broken at random while
training, by the lowest action index when acting deterministically). TD(0) acts with the
policy it evaluates: uniform random, or the greedy policy of a saved agent.

Action masks: when the env puts ``action_mask`` in ``info`` (rlkit/Rooms-v0, Taxi), the agent
stores the mask seen for each state, and exploration, max and argmax use only the allowed
actions. Storing it per state lets ``predict`` (which sees observations only, e.g. in
``rlkit eval``) respect the masks too; it assumes the mask is a function of the state, which
holds for envs whose observation is the whole state (every tabular env).

Several envs (``n_envs > 1``) are updated together from the same table; when two of them
update the same cell in one step, the cell gets one update with the mean of their TD errors
(as a synchronous batch update would), so the step size never compounds past eta.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch

from rlkit.config import TrainConfig
from rlkit.core.rollout import action_masks_of
from rlkit.errors import ConfigError
from rlkit.training.agent import Agent
from rlkit.training.environment import check_env_id, make_env

# Greedy policies can loop forever in deterministic envs; envs registered without a time
# limit (CliffWalking-v1) get this one, so that training and evaluation episodes end.
DEFAULT_MAX_EPISODE_STEPS = 1_000
# Tables up to this many cells average duplicate updates with table-sized bincounts.
_BINCOUNT_MAX_CELLS = 1 << 16


@dataclass
class TabularConfig(TrainConfig):
    """Tabular TD hyperparameters (on top of the shared training settings)."""

    learning_rate: float = 0.1
    """step size eta of the TD update"""
    lr_schedule: Literal["constant", "linear"] = "constant"
    """constant eta, or linear decay from learning_rate to final_learning_rate over training"""
    final_learning_rate: float = 0.0
    """eta at the end of training with lr_schedule=linear"""
    exploration_initial_eps: float = 1.0
    """epsilon (probability of a uniformly random allowed action) at the start of training"""
    exploration_final_eps: float = 0.05
    """epsilon after the decay"""
    exploration_fraction: float = 0.5
    """fraction of training over which epsilon decays linearly (0: final epsilon throughout)"""
    initial_value: float = 0.0
    """initial value of every table entry (> 0 makes untried actions attractive)"""
    policy: str = "random"
    """td0 only: the policy to evaluate, 'random' (uniform over allowed actions) or the path
    of a saved agent (checkpoint or run directory) whose greedy policy is evaluated"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        if not 0.0 < self.learning_rate <= 1.0 or not 0.0 <= self.final_learning_rate <= 1.0:
            raise ConfigError(
                "config keys 'learning_rate' must lie in (0, 1] and 'final_learning_rate' in "
                f"[0, 1]; got {self.learning_rate} and {self.final_learning_rate}"
            )
        for key in ("exploration_initial_eps", "exploration_final_eps", "exploration_fraction"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"config key '{key}' must lie in [0, 1], got {value}")
        if self.normalize_obs or self.normalize_reward:
            raise ConfigError(
                "tabular agents index tables by state and learn raw rewards; "
                "set normalize_obs and normalize_reward to false"
            )


# --- observations as table rows -------------------------------------------------------------
SUPPORTED_SPACES = "a Discrete, a one-axis MultiDiscrete or a Tuple of Discretes"


MAX_TABLE = 10**8
"""The most values a table may hold (800 MB of float64)."""


def component_sizes(space: gym.Space) -> tuple[int, ...] | None:
    """The sizes n_i of the components a table row is made of; None for a space tables can't
    index (a Box, a Tuple holding anything but Discretes, a MultiDiscrete of several axes)."""
    if isinstance(space, gym.spaces.Discrete):
        return (int(space.n),)
    if isinstance(space, gym.spaces.MultiDiscrete) and space.nvec.ndim == 1 and space.nvec.size:
        return tuple(int(n) for n in space.nvec)
    if isinstance(space, gym.spaces.Tuple) and space.spaces and all(
        isinstance(s, gym.spaces.Discrete) for s in space.spaces
    ):
        return tuple(int(s.n) for s in space.spaces)
    return None


def state_index(obs: Any, space: gym.Space) -> np.ndarray:
    """The table row (int64) of an observation of ``space``, or of a batch of them.

    Discrete(n, start): x - start. A Tuple of Discretes (n_i, start_i) or a MultiDiscrete
    (nvec, start): its components ravelled row-major, as ``np.ravel_multi_index``,

        row = sum_i (x_i - start_i) prod_{j > i} n_j,

    so Blackjack's (sum, dealer card, usable ace) in (Discrete(32), Discrete(11), Discrete(2))
    is row (sum * 11 + card) * 2 + ace. A Tuple's components are its elements (one env's tuple
    of ints, or a vector env's tuple of arrays, one per component); an array holds them on its
    last axis, as a MultiDiscrete's do. A component out of its range raises ValueError.
    """
    if isinstance(space, gym.spaces.Discrete):
        return np.asarray(obs, dtype=np.int64) - int(space.start)
    if isinstance(space, gym.spaces.Tuple) and not isinstance(obs, np.ndarray):
        starts = [int(s.start) for s in space.spaces]
        parts = [np.asarray(x, dtype=np.int64) - k for x, k in zip(obs, starts, strict=True)]
    else:
        starts = (
            space.start if isinstance(space, gym.spaces.MultiDiscrete)
            else np.array([s.start for s in space.spaces])
        )
        parts = list(np.moveaxis(np.asarray(obs, dtype=np.int64) - starts, -1, 0))
    return np.asarray(np.ravel_multi_index(parts, component_sizes(space)), dtype=np.int64)


def state_observation(states: np.ndarray, space: gym.Space) -> Any:
    """The observations of table rows ``states`` (a batch), the inverse of :func:`state_index`:
    Discrete ids, a vector env's tuple of arrays for a Tuple, (n, k) rows for a MultiDiscrete."""
    states = np.asarray(states, dtype=np.int64)
    if isinstance(space, gym.spaces.Discrete):
        return states + int(space.start)
    parts = np.unravel_index(states, component_sizes(space))
    if isinstance(space, gym.spaces.Tuple):
        return tuple(x + int(s.start) for x, s in zip(parts, space.spaces, strict=True))
    return np.stack(parts, axis=-1) + space.start


def _space_name(space: gym.Space) -> str:  # pragma: no mutate block (display text)
    """A space in a line: a Box's repr lists every bound, its shape and dtype say enough."""
    if isinstance(space, gym.spaces.Box):
        return f"Box(shape={space.shape}, dtype={space.dtype})"
    if isinstance(space, gym.spaces.Tuple):
        return f"Tuple({', '.join(_space_name(s) for s in space.spaces)})"
    return str(space)


# --- TD targets: one small pure function per algorithm --------------------------------------
def td0_target(
    rewards: np.ndarray, next_values: np.ndarray, terminated: np.ndarray, gamma: float
) -> np.ndarray:
    """y = r + gamma V(s'), with V(s') = 0 when the episode terminated."""
    return rewards + gamma * np.where(terminated, 0.0, next_values)


def q_learning_target(
    rewards: np.ndarray,
    next_q: np.ndarray,
    next_mask: np.ndarray,
    terminated: np.ndarray,
    gamma: float,
) -> np.ndarray:
    """y = r + gamma max_{b allowed in s'} Q(s', b); ``next_q``/``next_mask`` are (n, A) rows."""
    return rewards + gamma * np.where(terminated, 0.0, masked_max(next_q, next_mask))


def sarsa_target(
    rewards: np.ndarray,
    next_q: np.ndarray,
    next_actions: np.ndarray,
    terminated: np.ndarray,
    gamma: float,
) -> np.ndarray:
    """y = r + gamma Q(s', a') with a' the action the agent takes next in s'."""
    chosen = np.take_along_axis(next_q, next_actions[:, None], axis=1)[:, 0]
    return rewards + gamma * np.where(terminated, 0.0, chosen)


def expected_sarsa_target(
    rewards: np.ndarray,
    next_q: np.ndarray,
    next_probs: np.ndarray,
    terminated: np.ndarray,
    gamma: float,
) -> np.ndarray:
    """y = r + gamma sum_b pi(b|s') Q(s', b) with pi the epsilon-greedy policy."""
    expected = (next_probs * next_q).sum(axis=1)
    return rewards + gamma * np.where(terminated, 0.0, expected)


# --- acting on tables -----------------------------------------------------------------------
def masked_max(q: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """max_{b: mask[b]} q[b] per row (every row must allow at least one action)."""
    return np.where(mask, q, -np.inf).max(axis=1)


def greedy_actions(q: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """argmax over allowed actions per row; ties go to the lowest action index."""
    return np.where(mask, q, -np.inf).argmax(axis=1)


def epsilon_greedy(
    q: np.ndarray, mask: np.ndarray, epsilon: float, rng: np.random.Generator
) -> np.ndarray:
    """With probability epsilon a uniformly random allowed action, else a greedy allowed one.

    Ties between greedy actions are broken at random: with an all-zero table a fixed order
    would send every early episode the same way.
    """
    keys = rng.random((q.shape[0], q.shape[1] + 1))
    explore, keys = keys[:, :1] < epsilon, keys[:, 1:]
    allowed_q = np.where(mask, q, -np.inf)
    best = allowed_q == allowed_q.max(axis=1, keepdims=True)
    # Choose among the allowed actions when exploring, else among the greedy ones; the
    # largest random key within a set of actions is uniform over that set.
    candidates = np.where(explore, mask, best)
    return np.where(candidates, keys, -1.0).argmax(axis=1)


def epsilon_greedy_probs(q: np.ndarray, mask: np.ndarray, epsilon: float) -> np.ndarray:
    """pi(b|s) of :func:`epsilon_greedy`: eps / #allowed + (1 - eps) / #greedy on greedy b."""
    best = (q == masked_max(q, mask)[:, None]) & mask
    return epsilon * mask / mask.sum(axis=1, keepdims=True) + (1.0 - epsilon) * best / best.sum(
        axis=1, keepdims=True
    )


def apply_td_update(
    table: np.ndarray, index: tuple[np.ndarray, ...], td_errors: np.ndarray, lr: float
) -> None:
    """table[index] += lr * td_error, in place.

    Entries that appear more than once in ``index`` (two envs in the same cell in one vector
    step) get a single update with the mean of their TD errors.
    """
    flat = np.ravel_multi_index(index, table.shape)
    if len(set(flat.tolist())) == len(flat):  # no cell twice: checked cheaply
        table[index] += lr * td_errors
        return
    if table.size > _BINCOUNT_MAX_CELLS:  # sorting beats zeroing a huge scratch array
        cells, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, weights=td_errors, minlength=len(cells))
        table.reshape(-1)[cells] += lr * sums / counts
        return
    sums = np.bincount(flat, weights=td_errors, minlength=table.size)
    counts = np.bincount(flat, minlength=table.size)
    # A repeated cell in ``flat`` is written several times with the same new value.
    table.reshape(-1)[flat] += lr * sums[flat] / counts[flat]


class Table:
    """A numpy array that checkpoints like a module (``state_dict``/``load_state_dict``)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"values": self.values.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        values = np.asarray(state["values"])
        if values.shape != self.values.shape:
            raise ValueError(f"table of shape {values.shape}, expected {self.values.shape}")
        self.values[...] = values


class TabularAgent(Agent):
    """Everything the tabular agents share; subclasses supply ``td_target`` (and the shape)."""

    Config = TabularConfig
    config: TabularConfig
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Discrete,)
    #: True for control agents (a Q table), False for prediction (a V table, fixed policy).
    control: ClassVar[bool] = True

    def __init__(self, env_id: str, config: TabularConfig) -> None:
        # The observation space is checked before the base class checks the action space:
        # "needs Discrete observations" is the useful message for any continuous env.
        spec = check_env_id(env_id)
        if spec.max_episode_steps is None:
            limit = {"max_episode_steps": DEFAULT_MAX_EPISODE_STEPS}
            config.env_kwargs = {**limit, **config.env_kwargs}
        env = make_env(env_id, config.env_kwargs)
        try:
            space = env.observation_space
            if component_sizes(space) is None:
                raise ConfigError(
                    f"{self.name} needs Discrete observations; {env_id} has "
                    f"{_space_name(space)} (tabular agents take {SUPPORTED_SPACES}). "
                    "Use a deep agent such as dqn or ppo."
                )
            self.grid = _grid_layout(env.unwrapped)  # for describe_policy
            self.true_values = getattr(env.unwrapped, "TRUE_VALUES", None)  # RandomWalk's
        finally:
            env.close()
        super().__init__(env_id, config)

    def setup(self) -> None:
        cfg = self.config
        self.n_states = int(np.prod(component_sizes(self.observation_space), dtype=np.float64))
        self.n_actions = int(self.action_space.n)
        if self.n_states * self.n_actions > MAX_TABLE:
            raise ConfigError(f"{self.name}'s table for {self.observation_space} would hold "
                              f"{self.n_states * self.n_actions:.3g} values (at most "
                              f"{MAX_TABLE:.0e}); use a deep agent such as dqn or ppo")
        # Tables index from 0. The runner's observations are Discrete ids, which may start at
        # ``start`` (Discrete(n, start=k)), or rows already for a Tuple or MultiDiscrete (see
        # packer): obs_start is what to subtract from them.
        space = self.observation_space
        self.obs_start = int(space.start) if isinstance(space, gym.spaces.Discrete) else 0
        self.action_start = int(self.action_space.start)
        shape = (self.n_states, self.n_actions) if self.control else (self.n_states,)
        self.table = Table(np.full(shape, cfg.initial_value, dtype=np.float64))
        # Allowed actions per state, learned from info["action_mask"] (all allowed until seen).
        self.mask = Table(np.ones((self.n_states, self.n_actions), dtype=bool))
        # a' chosen in update() for the states in acting_obs, taken by the next collect()
        self.next_actions: np.ndarray | None = None
        self.acting_obs: np.ndarray | None = None
        self.transition: tuple[np.ndarray, np.ndarray, Any] | None = None
        self.td_abs_sum, self.td_count = 0.0, 0

    def modules(self) -> dict[str, Any]:
        return {"values": self.table, "action_mask": self.mask}

    def extra_state(self) -> dict[str, Any]:
        return {
            "next_actions": self.next_actions,
            "acting_obs": self.acting_obs,
            "td_abs_sum": self.td_abs_sum,
            "td_count": self.td_count,
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        actions = state.get("next_actions")
        self.next_actions = None if actions is None else np.asarray(actions)
        acting_obs = state.get("acting_obs")
        self.acting_obs = None if acting_obs is None else np.asarray(acting_obs)
        self.td_abs_sum = float(state.get("td_abs_sum", 0.0))
        self.td_count = int(state.get("td_count", 0))

    @property
    def packer(self) -> Any:
        """A Tuple's or MultiDiscrete's observations -> their table rows (:func:`state_index`),
        as the runner receives them: it, its checkpoints and the update see one int per env."""
        if isinstance(self.observation_space, gym.spaces.Discrete):
            return None
        return functools.partial(state_index, space=self.observation_space)

    # --- schedules ----------------------------------------------------------------------
    @property
    def epsilon(self) -> float:
        """eps_0 + min(1, progress / exploration_fraction) (eps_end - eps_0)."""
        cfg = self.config
        progress = 1.0 - self.progress_remaining
        done = min(1.0, progress / cfg.exploration_fraction) if cfg.exploration_fraction else 1.0
        start, end = cfg.exploration_initial_eps, cfg.exploration_final_eps
        return start + done * (end - start)

    @property
    def learning_rate(self) -> float:
        """eta, or with lr_schedule=linear eta_end + remaining (eta - eta_end)."""
        cfg = self.config
        if cfg.lr_schedule == "constant":
            return cfg.learning_rate
        remaining = self.progress_remaining
        return cfg.final_learning_rate + remaining * (cfg.learning_rate - cfg.final_learning_rate)

    # --- acting -------------------------------------------------------------------------
    def behaviour(self, states: np.ndarray) -> np.ndarray:
        """Training actions (table indices) in ``states``: epsilon-greedy in Q."""
        return epsilon_greedy(
            self.table.values[states], self.mask.values[states], self.epsilon, self.rng
        )

    def policy(self, states: np.ndarray, deterministic: bool) -> np.ndarray:
        """Actions (table indices) for ``states``: greedy when deterministic."""
        if deterministic:
            return greedy_actions(self.table.values[states], self.mask.values[states])
        return self.behaviour(states)

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """Actions for a batch of observations: ids, or components on the last axis."""
        states = state_index(obs.cpu().numpy().astype(np.int64), self.observation_space)
        return torch.as_tensor(self.policy(states, deterministic) + self.action_start)

    def predict(self, obs: Any, deterministic: bool = True,
                action_masks: np.ndarray | None = None) -> np.ndarray:
        """Actions for an observation as the env returns it (or a batch, as a vector env
        returns it); numpy all the way, no torch. The masks learned from the env's infos
        apply (``action_masks`` is taken for the deep agents' signature, and not needed)."""
        states = state_index(obs, self.observation_space)
        actions = self.policy(states.reshape(-1), deterministic) + self.action_start
        return actions[0] if states.ndim == 0 else actions.reshape(states.shape)

    def record_masks(self, obs: np.ndarray, infos: dict[str, Any]) -> None:
        """Store ``infos["action_mask"]`` as the allowed actions of the states in ``obs``."""
        masks = action_masks_of(infos, len(obs))  # a mask allowing nothing allows everything,
        if masks is None:  # so max and argmax stay defined in a terminal state
            return
        present = infos["_action_mask"]  # envs without a mask this step leave theirs alone
        self.mask.values[obs[present] - self.obs_start] = masks[present]

    # --- learning -----------------------------------------------------------------------
    def collect(self) -> None:
        runner = self.runner
        if self.acting_obs is not runner.obs and (
            self.acting_obs is None or not np.array_equal(self.acting_obs, runner.obs)
        ):  # a new runner (first step, or a resume whose env could not be restored)
            self.record_masks(runner.obs, runner.infos)
            self.next_actions = self.behaviour(runner.obs - self.obs_start)
            self.acting_obs = runner.obs
        states, actions = runner.obs - self.obs_start, self.next_actions
        step = runner.step(actions + self.action_start)
        self.record_masks(step.next_obs, runner.infos)
        self.transition = (states, actions, step)
        self.global_step += runner.n_envs

    def td_target(
        self,
        rewards: np.ndarray,
        next_states: np.ndarray,
        next_actions: np.ndarray,
        terminated: np.ndarray,
    ) -> np.ndarray:
        """The TD target y of each transition (states and actions as table indices)."""
        raise NotImplementedError

    def update(self) -> dict[str, float]:
        states, actions, step = self.transition
        next_states = step.next_obs - self.obs_start
        # a' ~ pi(.|s') is drawn before Q(s, a) changes (Sutton & Barto's SARSA order); it is
        # the action collect() takes next, and SARSA's target uses it.
        next_actions = self.behaviour(next_states)
        self.next_actions, self.acting_obs = next_actions, step.next_obs
        rewards, terminated, valid = step.rewards, step.terminated, step.valid
        if not valid.all():  # skip the autoreset step: it is no transition
            states, actions, rewards = states[valid], actions[valid], rewards[valid]
            next_states, next_actions = next_states[valid], next_actions[valid]
            terminated = terminated[valid]
        if len(states):
            index = (states, actions) if self.control else (states,)
            target = self.td_target(rewards, next_states, next_actions, terminated)
            td_errors = target - self.table.values[index]
            apply_td_update(self.table.values, index, td_errors, self.learning_rate)
            self.td_abs_sum += float(np.abs(td_errors).sum())
            self.td_count += len(td_errors)
            self.n_updates += 1
        # Metrics only on steps the loop logs: building them every step would cost more than
        # the update itself.
        if self.global_step < self.next_log and self.global_step < self.end_step:
            return {}
        return self.metrics()

    def metrics(self) -> dict[str, float]:
        out = {
            "losses/td_error": self.td_abs_sum / max(self.td_count, 1),
            "charts/learning_rate": self.learning_rate,
        }
        self.td_abs_sum, self.td_count = 0.0, 0
        if self.control:
            out["charts/epsilon"] = self.epsilon
        return out

    # --- reading the tables -------------------------------------------------------------
    def describe_policy(self) -> str | None:  # pragma: no mutate block (display text)
        """The greedy policy as arrows on the grid (FrozenLake, CliffWalking), or a table."""
        greedy = greedy_actions(self.table.values, self.mask.values)
        # '·' marks states whose row was never updated (holes, the goal, unreached cells).
        untouched = np.all(self.table.values == self.config.initial_value, axis=1)
        if self.grid is not None:
            cells, arrows = self.grid
            lines = []
            for r, row in enumerate(cells):
                out = []
                for c, cell in enumerate(row):
                    s = r * len(row) + c
                    out.append(cell if cell != "." else "·" if untouched[s] else arrows[greedy[s]])
                lines.append(" ".join(out))
            return "greedy policy:\n" + "\n".join(lines)
        if self.n_states > 64:
            return None
        lines = ["state  greedy  Q(s, a) for a = 0.." + str(self.n_actions - 1)]
        for s in range(self.n_states):
            values = " ".join(
                f"{q:8.2f}" if allowed else f"{'-':>8}"
                for q, allowed in zip(self.table.values[s], self.mask.values[s], strict=True)
            )
            lines.append(f"{self.state_label(s):>5}  {greedy[s] + self.action_start:6d}  {values}")
        return "\n".join(lines)

    def state_label(self, state: int) -> str:  # pragma: no mutate block (display text)
        """Table row ``state`` as its observation: an id, or a tuple of components."""
        obs = state_observation(np.array([state]), self.observation_space)
        if isinstance(obs, tuple):
            return str(tuple(int(x[0]) for x in obs))
        return str(obs[0]) if obs.ndim == 1 else str(tuple(obs[0].tolist()))


def _grid_layout(
    env: gym.Env,
) -> tuple[list[list[str]], str] | None:  # pragma: no mutate block (display text)
    """Cells (letters for fixed cells, '.' where an arrow goes) and arrows by action."""
    name = type(env).__name__
    if name == "FrozenLakeEnv":  # actions: left, down, right, up
        cells = [[ch.decode() for ch in row] for row in env.desc]
        cells = [[ch if ch in "HG" else "." for ch in row] for row in cells]
        return cells, "←↓→↑"
    if name == "CliffWalkingEnv":  # actions: up, right, down, left
        rows, cols = env.shape
        cells = [["C" if env._cliff[r, c] else "." for c in range(cols)] for r in range(rows)]
        cells[rows - 1][cols - 1] = "G"
        return cells, "↑→↓←"
    return None


class QLearning(TabularAgent):
    """Off-policy TD control: y = r + gamma max_b Q(s', b)."""

    name = "qlearning"

    def td_target(
        self,
        rewards: np.ndarray,
        next_states: np.ndarray,
        next_actions: np.ndarray,
        terminated: np.ndarray,
    ) -> np.ndarray:
        return q_learning_target(
            rewards,
            self.table.values[next_states],
            self.mask.values[next_states],
            terminated,
            self.config.gamma,
        )


class Sarsa(TabularAgent):
    """On-policy TD control: y = r + gamma Q(s', a') with a' the next action taken."""

    name = "sarsa"

    def td_target(
        self,
        rewards: np.ndarray,
        next_states: np.ndarray,
        next_actions: np.ndarray,
        terminated: np.ndarray,
    ) -> np.ndarray:
        next_q = self.table.values[next_states]
        return sarsa_target(rewards, next_q, next_actions, terminated, self.config.gamma)


class ExpectedSarsa(TabularAgent):
    """TD control on the expectation over the next action: y = r + gamma E_pi[Q(s', .)]."""

    name = "expected_sarsa"

    def td_target(
        self,
        rewards: np.ndarray,
        next_states: np.ndarray,
        next_actions: np.ndarray,
        terminated: np.ndarray,
    ) -> np.ndarray:
        next_q = self.table.values[next_states]
        probs = epsilon_greedy_probs(next_q, self.mask.values[next_states], self.epsilon)
        return expected_sarsa_target(rewards, next_q, probs, terminated, self.config.gamma)


class TD0(TabularAgent):
    """TD(0) prediction of V for a fixed policy: y = r + gamma V(s').

    The policy is uniform over the allowed actions (``policy: random``) or the greedy policy of
    a saved agent (``policy: path/to/run``), read once into a table of actions per state and
    checkpointed with V. Acting (also in evaluation) follows that policy.
    """

    name = "td0"
    control = False

    def setup(self) -> None:
        super().setup()
        # -1: no fixed action (uniform random over the allowed actions).
        self.fixed = Table(np.full(self.n_states, -1, dtype=np.int64))
        if self.config.policy != "random":
            self.fixed.values[:] = self._load_policy(self.config.policy)

    def _load_policy(self, path: str) -> np.ndarray:
        from rlkit.training.registry import load

        if not Path(path).exists():
            raise ConfigError(
                f"config key 'policy' must be 'random' or a saved agent; '{path}' does not exist"
            )
        other = load(path)
        if other.observation_space != self.observation_space or (
            other.action_space != self.action_space
        ):
            raise ConfigError(
                f"policy '{path}' is for {other.env_id} ({other.observation_space}, "
                f"{other.action_space}); {self.env_id} has ({self.observation_space}, "
                f"{self.action_space})"
            )
        states = state_observation(np.arange(self.n_states), self.observation_space)
        return np.asarray(other.predict(states, deterministic=True)) - self.action_start

    def modules(self) -> dict[str, Any]:
        return {**super().modules(), "policy": self.fixed}

    def behaviour(self, states: np.ndarray) -> np.ndarray:
        fixed = self.fixed.values[states]
        keys = self.rng.random((len(states), self.n_actions))
        uniform = np.where(self.mask.values[states], keys, -1.0).argmax(axis=1)
        return np.where(fixed >= 0, fixed, uniform)

    def policy(self, states: np.ndarray, deterministic: bool) -> np.ndarray:
        # The evaluated policy is the policy: a random one stays random when "deterministic".
        return self.behaviour(states)

    def td_target(
        self,
        rewards: np.ndarray,
        next_states: np.ndarray,
        next_actions: np.ndarray,
        terminated: np.ndarray,
    ) -> np.ndarray:
        next_values = self.table.values[next_states]
        return td0_target(rewards, next_values, terminated, self.config.gamma)

    def metrics(self) -> dict[str, float]:
        out = super().metrics()
        if self.true_values is not None:
            out["charts/rms_error"] = rms_error(self.table.values, self.true_values)
        return out

    def describe_policy(self) -> str | None:  # pragma: no mutate block (display text)
        """V on the grid for grid envs, else V per state (up to 64 states)."""
        values = self.table.values
        if self.grid is not None:
            cells, _ = self.grid
            ncol = len(cells[0])
            rows = [
                " ".join(f"{values[r * ncol + c]:6.2f}" for c in range(ncol))
                for r in range(len(cells))
            ]
            return "state values V(s):\n" + "\n".join(rows)
        if self.n_states > 64:
            return None
        return "state values V(s):\n" + "\n".join(
            f"{self.state_label(s):>5}  {v:8.4f}" for s, v in enumerate(values)
        )


def rms_error(values: np.ndarray, true_values: np.ndarray) -> float:
    """sqrt(mean_s (V(s) - v_true(s))^2)."""
    return float(np.sqrt(np.mean((np.asarray(values) - np.asarray(true_values)) ** 2)))
