"""Maximum (causal) entropy inverse RL on a known tabular model (Ziebart et al. 2008, 2010).

No reward is given: an expert's discounted state-action occupancy rho_E is. With the env's
model P(s'|s, a) and start distribution mu_0, find the reward r_theta(s, a) = theta . phi(s, a)
(phi one-hot over state-action pairs, so r_theta(s, a) = theta[s, a]) whose soft-optimal
policy visits what the expert visits:

    theta <- 0
    repeat
        Q(s, a) = r_theta(s, a) + gamma sum_s' P(s'|s, a) V(s')     soft value iteration
        V(s)    = log sum_a exp Q(s, a)
        pi(a|s) = exp(Q(s, a) - V(s))
        d       = mu_0 + gamma P_pi^T d,  P_pi(s, s') = sum_a pi(a|s) P(s'|s, a)
        rho(s, a) = (1 - gamma) d(s) pi(a|s)                    discounted visitation frequencies
        theta <- theta + eta (rho_E - rho)                      (Adam, or the plain step)
    until ||rho_E - rho||_1 < occupancy_tol

rho_E - rho is the gradient of the expert's discounted causal log-likelihood
l(theta) = sum_{s,a} rho_E(s, a) log pi_theta(a|s) (``losses/nll`` is -l), a concave function of
theta, wherever rho_E is the occupancy of some policy in the same model from the same mu_0.
Everything is exact dynamic programming in numpy: the soft Bellman equation is solved to
``SOLVER_TOL`` and d by one linear solve, so a step's gradient has no sampling error.
Terminal states absorb: a transition flagged ``terminated`` carries no mass into the
continuation (what follows it is worth 0 and is never visited), so P above holds only the
transitions after which the episode goes on. Time limits are not part of the model (a
truncation is no termination), as in the discounted problem the agent solves.

**The expert and the features, and why.** The issue's expert is the optimal policy of the true
reward, a deterministic one (value iteration, ties to the lowest action). MCE IRL's policies
exp(Q - V) are never deterministic at a finite theta, so the likelihood has no maximizer: it
approaches its supremum, 0, as theta's gaps between the expert's actions and the others grow
without bound. Two choices make the occupancy match reachable to any tolerance:

* State-action features. phi's feature expectations are then the occupancies themselves, so
  feature matching is occupancy matching and the stopping rule is the acceptance check. With
  state features r(s) only d(s) would be matched, which leaves the choice between actions with
  the same successors (a wall bumped from two sides, the expert's tie-breaks) free.
* Adam. For an action the expert never takes in a state it visits, the gradient is
  -rho(s, a) < 0 at every step, so theta[s, a] only falls. Adam's steps are about eta long
  whatever the gradient's size, so the gaps in Q grow linearly and the occupancy gap, of order
  exp(-gap), falls geometrically (1e-4 in 12 to 18 steps at eta = 1 on the shipped Rooms,
  FrozenLake and CliffWalking entries; see ``ADAM_BETAS``). The plain step shrinks with the
  gradient: the gaps grow like log t and the occupancy gap falls like 1/t.

A soft-optimal expert exp(Q - V) of the true reward would lie in the model class: the
gradient vanishes at its reward and at every shaping of it, a finite theta. But the issue's
demonstrations are the optimal policy's, and so are recorded runs' (deterministic by default).

**The checks.** ``irl/occupancy_gap`` is ||rho_E - rho_theta||_1 over state-action pairs, with
both normalized by (1 - gamma) (a distribution, less the mass lost to termination): it bounds
the L1 and the max-abs gaps of the state occupancies. ``irl/policy_agreement`` is the fraction
of the states the expert visits in which the optimal (hard max) policy of r_theta, by value
iteration, takes the expert's action. ``irl/reward_correlation`` is Pearson's r between theta
and the true expected reward over the pairs of non-terminal states (a learned reward is only
determined up to shaping, so it need not be high). ``irl/greedy_true_return`` and
``irl/expert_true_return`` are the exact discounted true returns from mu_0 of the agent's
greedy policy and of the expert.

The agent needs the model: ``env.unwrapped.P`` in Gymnasium's toy-text format
(s -> a -> [(prob, s', reward, terminated)]) and ``env.unwrapped.initial_state_distrib``
(FrozenLake-v1, CliffWalking-v1, Taxi-v4, rlkit/Rooms-v0). Each ``collect`` steps the envs once
with the learned soft policy, which is not used for learning (the model is known): it shows
the learner in the env (``charts/episodic_return``) and paces the updates, ``gradient_steps``
per ``n_envs`` env steps. ``act`` is greedy in the soft Q (ties to the lowest action), or
samples pi when not deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.agents.tabular import DEFAULT_MAX_EPISODE_STEPS, greedy_actions, state_index
from rlkit.config import TrainConfig
from rlkit.core.demonstrations import load_demonstrations
from rlkit.errors import ConfigError
from rlkit.training.agent import Agent
from rlkit.training.environment import check_env_id, make_env

SOLVER_TOL = 1e-10
"""the Bellman residual, relative to max |Q| (at least 1), at which the DP solvers stop"""
MAX_SOFT_SWEEPS = 1_000
"""soft policy iteration's sweeps at most (it takes a handful from a warm start)"""
ADAM_BETAS = (0.9, 0.9)
"""Adam's decay rates, with a short memory of the squared gradient (torch's default is
0.999): the gradient shrinks geometrically as pi_theta sharpens, and a long memory of the
first, large gradients shrinks the steps with it. To ||rho_E - rho||_1 < 1e-4 at eta from 0.1
to 3 on Rooms, FrozenLake (4x4 slippery or not, 8x8) and CliffWalking: at most 169 steps with
0.9, up to 3,000 with 0.999 (1,500 on Rooms at eta = 0.3); at eta = 1, 13 to 30 steps."""
MAX_MODEL = 10**7
"""the most entries the dense model P(s'|s, a) may have (80 MB of float64)"""
_ENVS_WITH_A_MODEL = "FrozenLake-v1, CliffWalking-v1, Taxi-v4 and rlkit/Rooms-v0"


@dataclass
class MaxEntIRLConfig(TrainConfig):
    """Maximum causal entropy IRL hyperparameters (on top of the shared training settings)."""

    learning_rate: float = 1.0
    """step size eta of the ascent on theta (Adam's, or the plain gradient's)"""
    optimizer: Literal["adam", "sgd"] = "adam"
    """Adam, or the plain gradient step theta += eta (rho_E - rho), which converges like 1/t
    on a deterministic expert (see the module docstring)"""
    gradient_steps: int = 1
    """ascent steps per update (one update per n_envs env steps)"""
    occupancy_tol: float = 1e-4
    """the ascent stops once ||rho_E - rho_theta||_1 is below this"""
    expert: str = "value_iteration"
    """the demonstrator when ``demos`` is none, whose exact occupancy is rho_E:
    ``value_iteration`` (the optimal policy of the env's true reward, ties to the lowest
    action), or a saved agent for the same env (a checkpoint or run directory), whose greedy
    policy is the expert"""
    demos: str | None = None
    """a Minari dataset of demonstrations (a folder, or an id in Minari's local root) whose
    empirical discounted occupancy is rho_E; none: the ``expert`` policy's exact occupancy"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        for key in ("learning_rate", "occupancy_tol"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"config key '{key}' must be a finite number > 0, got {value}")
        if self.gradient_steps < 1:
            raise ConfigError(f"config key 'gradient_steps' must be >= 1, got "
                              f"{self.gradient_steps}")
        if not self.gamma < 1.0:
            raise ConfigError(f"config key 'gamma' must be < 1 for maxent_irl (the discounted "
                              f"occupancy (1 - gamma) sum_t gamma^t P(s_t, a_t) is its target), "
                              f"got {self.gamma}")
        if self.normalize_obs or self.normalize_reward:
            raise ConfigError("maxent_irl indexes tables by state and learns no env reward; "
                              "set normalize_obs and normalize_reward to false")


# --- the model ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TabularModel:
    """An env's dynamics and true reward as arrays (S states, A actions)."""

    transitions: np.ndarray
    """(S, A, S): P(s'|s, a) of the transitions after which the episode goes on"""
    rewards: np.ndarray
    """(S, A): the expected reward of taking a in s, sum_k p_k r_k"""
    start: np.ndarray
    """(S,): mu_0, the distribution of the first state"""

    @property
    def acting_states(self) -> np.ndarray:
        """(S,) bool: the states an episode can be in when an action is taken (a start state,
        or one some transition continues into); terminal and unreachable cells are not."""
        return (self.start > 0) | (self.transitions.sum(axis=(0, 1)) > 0)


def tabular_model(env: gym.Env, env_id: str = "the env") -> TabularModel:
    """The model of ``env``, read from its toy-text attributes ``P`` and
    ``initial_state_distrib``; a ConfigError where it has none, or an inconsistent one."""
    base = env.unwrapped
    table, start = getattr(base, "P", None), getattr(base, "initial_state_distrib", None)
    if not isinstance(table, dict) or start is None:
        raise ConfigError(
            f"maxent_irl needs the env's tabular model: env.unwrapped.P in Gymnasium's toy-text "
            f"format (s -> a -> [(prob, s', reward, terminated)]) and its start distribution "
            f"env.unwrapped.initial_state_distrib; {env_id} ({type(base).__name__}) has "
            f"{'no P' if not isinstance(table, dict) else 'no initial_state_distrib'} "
            f"({_ENVS_WITH_A_MODEL} have both)")
    n_states, n_actions = int(env.observation_space.n), int(env.action_space.n)
    if n_states * n_states * n_actions > MAX_MODEL:
        raise ConfigError(f"maxent_irl's dense model of {env_id} would hold "
                          f"{n_states * n_states * n_actions:.3g} values (at most {MAX_MODEL:.0e})")
    transitions = np.zeros((n_states, n_actions, n_states))
    rewards = np.zeros((n_states, n_actions))
    for s in range(n_states):
        for a in range(n_actions):
            outcomes = table.get(s, {}).get(a)
            if not outcomes or abs(sum(p for p, *_ in outcomes) - 1.0) > 1e-6:
                raise ConfigError(f"{env_id}'s model P[{s}][{a}] is not a distribution over "
                                  f"outcomes (probabilities summing to 1): {outcomes}")
            for prob, next_state, reward, terminated in outcomes:
                rewards[s, a] += prob * reward
                if not terminated:  # a terminal state absorbs: nothing follows it
                    transitions[s, a, int(next_state)] += prob
    start = np.asarray(start, dtype=np.float64).reshape(-1)
    if start.shape != (n_states,) or abs(start.sum() - 1.0) > 1e-6 or (start < 0).any():
        raise ConfigError(f"{env_id}'s initial_state_distrib is not a distribution over its "
                          f"{n_states} states: {start}")
    return TabularModel(transitions, rewards, start)


# --- dynamic programming --------------------------------------------------------------------
def log_sum_exp(q: np.ndarray) -> np.ndarray:
    """V(s) = log sum_a exp Q(s, a) per row, computed stably (the row's max factored out)."""
    top = q.max(axis=1)
    return top + np.log(np.exp(q - top[:, None]).sum(axis=1))


def soft_policy(q: np.ndarray) -> np.ndarray:
    """pi(a|s) = exp(Q(s, a) - V(s))."""
    return np.exp(q - log_sum_exp(q)[:, None])


def policy_values(policy: np.ndarray, rewards: np.ndarray, transitions: np.ndarray,
                  gamma: float) -> np.ndarray:
    """V_pi = (I - gamma P_pi)^-1 r_pi, with r_pi(s) = sum_a pi(a|s) r(s, a): policy
    evaluation in one linear solve."""
    p_pi = np.einsum("sa,sat->st", policy, transitions)
    r_pi = (policy * rewards).sum(axis=1)
    return np.linalg.solve(np.eye(len(r_pi)) - gamma * p_pi, r_pi)


def _converged(new_q: np.ndarray, q: np.ndarray) -> bool:
    return float(np.abs(new_q - q).max()) <= SOLVER_TOL * max(1.0, float(np.abs(new_q).max()))


def value_iteration(rewards: np.ndarray, transitions: np.ndarray, gamma: float) -> np.ndarray:
    """Q*(s, a) = r(s, a) + gamma sum_s' P(s'|s, a) max_b Q*(s', b), iterated from 0."""
    q = np.zeros_like(rewards)
    while True:
        new_q = rewards + gamma * transitions @ q.max(axis=1)
        if _converged(new_q, q):
            return new_q
        q = new_q


def soft_bellman_backup(q: np.ndarray, rewards: np.ndarray, transitions: np.ndarray,
                        gamma: float) -> np.ndarray:
    """One sweep of soft value iteration: r(s, a) + gamma sum_s' P(s'|s, a) V(s'), with
    V(s') = log sum_b exp Q(s', b)."""
    return rewards + gamma * transitions @ log_sum_exp(q)


def soft_value_iteration(rewards: np.ndarray, transitions: np.ndarray, gamma: float,
                         q0: np.ndarray | None = None) -> np.ndarray:
    """The soft Q, the fixed point of :func:`soft_bellman_backup`.

    Solved by soft policy iteration from ``q0`` (the last step's Q: theta moves little between
    steps): pi = exp(Q - V), then Q <- r + gamma P V_pi, where V_pi = (I - gamma P_pi)^-1
    sum_a pi (r - log pi) is pi's soft value, evaluated exactly. This is Newton's method on the
    soft Bellman equation: it takes a few sweeps where the backup itself, contracting by gamma,
    takes thousands at gamma = 0.99. The fixed point is the same.
    """
    q = np.zeros_like(rewards) if q0 is None else q0
    for _ in range(MAX_SOFT_SWEEPS):
        log_pi = q - log_sum_exp(q)[:, None]
        values = policy_values(np.exp(log_pi), rewards - log_pi, transitions, gamma)
        new_q = rewards + gamma * transitions @ values
        if _converged(new_q, q):
            return new_q
        q = new_q
    raise RuntimeError(f"soft policy iteration did not converge in {MAX_SOFT_SWEEPS} sweeps")


def occupancy(policy: np.ndarray, transitions: np.ndarray, start: np.ndarray,
              gamma: float) -> np.ndarray:
    """rho(s, a) = (1 - gamma) sum_t gamma^t P(s_t = s, a_t = a): the discounted visitation
    frequencies of ``policy`` from ``start``, with d = mu_0 + gamma P_pi^T d solved at once."""
    p_pi = np.einsum("sa,sat->st", policy, transitions)
    visits = np.linalg.solve(np.eye(len(start)) - gamma * p_pi.T, start)
    return (1.0 - gamma) * visits[:, None] * policy


def empirical_occupancy(states: np.ndarray, actions: np.ndarray, episode_starts: np.ndarray,
                        gamma: float, n_states: int, n_actions: int) -> np.ndarray:
    """rho_E(s, a) = (1 - gamma) / E sum_episodes sum_t gamma^t 1[s_t = s, a_t = a] of E
    recorded episodes, one transition per row (an episode cut by a time limit misses its
    tail's gamma^T share)."""
    episode_starts = np.asarray(episode_starts, dtype=bool)
    if not len(states) or not episode_starts[0]:
        raise ValueError("demonstrations must be non-empty and begin with an episode start")
    first = np.flatnonzero(episode_starts)
    t = np.arange(len(states)) - first[np.cumsum(episode_starts) - 1]  # time within the episode
    rho = np.zeros((n_states, n_actions))
    np.add.at(rho, (np.asarray(states), np.asarray(actions)), gamma**t)
    return (1.0 - gamma) * rho / len(first)


def reachable(start: np.ndarray, transitions: np.ndarray, policy: np.ndarray) -> np.ndarray:
    """(S,) bool: the states ``policy`` visits with positive probability from ``start``."""
    step = np.einsum("sa,sat->st", policy, transitions) > 0
    seen = start > 0
    while True:
        grown = seen | step[seen].any(axis=0)
        if (grown == seen).all():
            return seen
        seen = grown


class StateActionReward(nn.Module):
    """r_theta(s, a) = theta[s, a]: a reward linear in one-hot state-action features."""

    def __init__(self, n_states: int, n_actions: int) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.zeros(n_states, n_actions, dtype=torch.float64))

    def table(self) -> np.ndarray:
        return self.theta.detach().cpu().numpy().copy()


class MaxEntIRL(Agent):
    """Tabular maximum causal entropy IRL: Adam ascent of theta on rho_E - rho_theta."""

    name = "maxent_irl"
    Config = MaxEntIRLConfig
    config: MaxEntIRLConfig
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Discrete,)

    def __init__(self, env_id: str, config: MaxEntIRLConfig) -> None:
        spec = check_env_id(env_id)
        if spec.max_episode_steps is None:  # a greedy policy may loop forever (CliffWalking)
            config.env_kwargs = {"max_episode_steps": DEFAULT_MAX_EPISODE_STEPS,
                                 **config.env_kwargs}
        env = make_env(env_id, config.env_kwargs)
        try:
            if not isinstance(env.observation_space, gym.spaces.Discrete):
                raise ConfigError(f"maxent_irl needs Discrete observations with a tabular "
                                  f"model; {env_id} has {env.observation_space}")
            self.model = tabular_model(env, env_id)
        finally:
            env.close()
        super().__init__(env_id, config)

    def setup(self) -> None:
        cfg, model = self.config, self.model
        self.obs_start = int(self.observation_space.start)
        self.action_start = int(self.action_space.start)
        n_states, n_actions = model.rewards.shape
        self.reward = StateActionReward(n_states, n_actions)
        optimizer = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.SGD
        extra = {"betas": ADAM_BETAS} if cfg.optimizer == "adam" else {}
        self.optimizer = optimizer(self.reward.parameters(), lr=cfg.learning_rate, **extra)
        self.expert_policy, self.expert_occupancy, self.expert_visits = self.expert()
        self.soft_q: np.ndarray | None = None
        self.solve()

    def expert(self) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """The expert's policy (None for demonstrations), its occupancy rho_E and the states it
        visits."""
        cfg, model = self.config, self.model
        n_states, n_actions = model.rewards.shape
        if cfg.demos is not None:  # rho_E from the recorded episodes; no expert policy
            demos = load_demonstrations(cfg.demos, self.observation_space, self.action_space)
            space = demos.input_space
            states = (demos.obs if isinstance(space, gym.spaces.Discrete)  # ids from 0
                      else space.entry_values(demos.obs, space.entries[0]))  # packed ids
            rho = empirical_occupancy(states.astype(np.int64).ravel(),
                                      demos.actions.astype(np.int64) - self.action_start,
                                      demos.episode_starts, cfg.gamma, n_states, n_actions)
            return None, rho, rho.sum(axis=1) > 0
        if cfg.expert == "value_iteration":
            q_star = value_iteration(model.rewards, model.transitions, cfg.gamma)
            actions = greedy_actions(q_star, np.ones(q_star.shape, dtype=bool))
        else:
            actions = self.saved_policy(cfg.expert)
        policy = np.eye(n_actions)[actions]
        visits = reachable(model.start, model.transitions, policy)
        return policy, occupancy(policy, model.transitions, model.start, cfg.gamma), visits

    def saved_policy(self, path: str) -> np.ndarray:
        """The greedy action (table index) in every state of the agent saved at ``path``."""
        from rlkit.training.registry import load

        if not Path(path).exists():
            raise ConfigError(f"config key 'expert' must be 'value_iteration' or a saved agent; "
                              f"'{path}' does not exist")
        other = load(path)
        if (other.observation_space, other.action_space) != (self.observation_space,
                                                             self.action_space):
            raise ConfigError(f"expert '{path}' is for {other.env_id} ({other.observation_space}"
                              f", {other.action_space}); {self.env_id} has "
                              f"({self.observation_space}, {self.action_space})")
        states = np.arange(self.observation_space.n) + self.obs_start
        return np.asarray(other.predict(states, deterministic=True)) - self.action_start

    def solve(self) -> None:
        """The soft Q of the current reward, its policy pi_theta and occupancy rho_theta."""
        cfg, model = self.config, self.model
        self.soft_q = soft_value_iteration(self.reward.table(), model.transitions, cfg.gamma,
                                           self.soft_q)
        self.derive()

    def derive(self) -> None:
        self.policy = soft_policy(self.soft_q)
        self.occupancy = occupancy(self.policy, self.model.transitions, self.model.start,
                                   self.config.gamma)

    @property
    def occupancy_gap(self) -> float:
        """||rho_E - rho_theta||_1 over state-action pairs."""
        return float(np.abs(self.expert_occupancy - self.occupancy).sum())

    def modules(self) -> dict[str, Any]:
        return {"reward": self.reward, "optimizer": self.optimizer}

    def extra_state(self) -> dict[str, Any]:
        # Q warm-starts the next solve: a resumed run continues with the same bits.
        return {"soft_q": self.soft_q.copy()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("soft_q") is not None:
            self.soft_q = np.asarray(state["soft_q"], dtype=np.float64)
            self.derive()

    # --- acting -------------------------------------------------------------------------
    def actions(self, states: np.ndarray, deterministic: bool,
                allowed: np.ndarray | None = None) -> np.ndarray:
        """Greedy actions in the soft Q (ties to the lowest index), or draws from pi by the
        Gumbel-max trick (argmax of Q + Gumbel noise is distributed as exp(Q - V)), among the
        ``allowed`` ones."""
        q = self.soft_q[states]
        allowed = np.ones(q.shape, dtype=bool) if allowed is None else allowed
        if not deterministic:
            q = q + self.rng.gumbel(size=q.shape)
        return greedy_actions(q, allowed)

    def act(self, obs: torch.Tensor, deterministic: bool = False,
            action_masks: torch.Tensor | None = None) -> torch.Tensor:
        states = state_index(obs.cpu().numpy().astype(np.int64), self.observation_space)
        allowed = None if action_masks is None else action_masks.cpu().numpy()
        return torch.as_tensor(self.actions(states, deterministic, allowed) + self.action_start)

    # --- learning -----------------------------------------------------------------------
    def collect(self) -> None:
        runner = self.runner
        states = np.asarray(runner.obs, dtype=np.int64) - self.obs_start
        runner.step(self.actions(states, deterministic=False) + self.action_start)
        self.global_step += runner.n_envs

    def update(self) -> dict[str, float]:
        for _ in range(self.config.gradient_steps):
            if self.occupancy_gap < self.config.occupancy_tol:
                break  # converged: theta stays where the acceptance holds
            gradient = self.expert_occupancy - self.occupancy  # d l(theta) / d theta
            self.optimizer.zero_grad()
            self.reward.theta.grad = torch.from_numpy(-gradient)  # torch steps downhill on -l
            self.optimizer.step()
            self.solve()
            self.n_updates += 1
        if self.global_step < self.next_log and self.global_step < self.end_step:
            return {}  # metrics (value iteration among them) only when a row is written
        return self.metrics()

    def metrics(self) -> dict[str, float]:
        model, gamma, theta = self.model, self.config.gamma, self.reward.table()
        visits = self.expert_visits
        expert_actions = self.expert_occupancy.argmax(axis=1)
        optimal = value_iteration(theta, model.transitions, gamma).argmax(axis=1)
        log_pi = self.soft_q - log_sum_exp(self.soft_q)[:, None]
        greedy = np.eye(theta.shape[1])[self.actions(np.arange(len(theta)), True)]
        out = {
            "losses/nll": float(-(self.expert_occupancy * log_pi)[visits].sum()),
            "irl/occupancy_gap": self.occupancy_gap,
            "irl/policy_agreement": float((optimal == expert_actions)[visits].mean()),
            "irl/greedy_true_return": true_return(greedy, model, gamma),
            "irl/gradient_steps": float(self.n_updates),
        }
        if self.expert_policy is not None:
            out["irl/expert_true_return"] = true_return(self.expert_policy, model, gamma)
        acting = model.acting_states
        true_r, learned_r = model.rewards[acting].ravel(), theta[acting].ravel()
        if true_r.std() > 0 and learned_r.std() > 0:  # Pearson's r is undefined otherwise
            out["irl/reward_correlation"] = float(np.corrcoef(true_r, learned_r)[0, 1])
        return out


def true_return(policy: np.ndarray, model: TabularModel, gamma: float) -> float:
    """J(pi) = sum_s mu_0(s) V_pi(s) under the env's true reward (discounted, exact)."""
    return float(model.start @ policy_values(policy, model.rewards, model.transitions, gamma))
