"""Deep Q-learning (Mnih et al. 2015) with double Q, prioritized replay, n-step returns, dueling.

Act epsilon-greedily in Q, store transitions in a replay buffer, and every ``train_freq`` vector
steps take ``gradient_steps`` steps on minibatches of it, minimizing

    L = E_i[ w_i * l(Q(s_i, a_i) - y_i) ],    l = Huber or squared error,
    y = r + gamma^m * (1 - terminated) * Q_target(s', b*),

with b* = argmax_b Q_target(s', b) (DQN) or argmax_b Q(s', b) (double Q: the online network
picks the action, the target network evaluates it; van Hasselt et al. 2016). r is the
discounted sum of m = n_step rewards (fewer at an episode end); a truncated episode still
bootstraps from its true final observation. The weights w_i are 1, or the importance weights of
prioritized replay (Schaul et al. 2016), whose priorities come from |Q(s_i, a_i) - y_i|. The
target network follows the online one every ``target_update_interval`` env steps: a copy
(``tau = 1``) or Polyak averaging theta' <- tau theta + (1 - tau) theta'.

With ``q_head: bayes_linear`` (BDQN, Azizzadenesheli et al. 2018) Q(s, a) = mu_a^T [phi(s), 1]
on the torso's features phi: every ``posterior_update_interval`` env steps a Bayesian linear
regression per action is refit on the whole replay buffer, features phi(s_i) against the TD
targets y_i, and its posterior mean mu_a becomes the head (the torso keeps learning by gradient
through it). With ``exploration: thompson`` each env acts greedily on weights w_a ~ N(mu_a,
Sigma_a) drawn from the posterior at the start of each of its episodes (Thompson sampling;
one draw per episode explores deeply, Osband et al. 2016), instead of epsilon-greedily.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.approximators.bayes import BayesianLinearRegression
from rlkit.approximators.heads import QNetwork
from rlkit.approximators.heads import masked as masked_logits
from rlkit.config import TrainConfig
from rlkit.core.aligned import to_tensor
from rlkit.core.buffers import ReplayBatch, ReplayBuffer
from rlkit.core.frame_replay import FRAME_SHARING, replay_buffer_class
from rlkit.core.modes import eval_mode
from rlkit.core.nstep import NStepAccumulator
from rlkit.core.optim import FlatOptimizer
from rlkit.core.prioritized import PrioritizedReplayBuffer
from rlkit.core.rollout import stored_obs_dtype
from rlkit.errors import ConfigError
from rlkit.training.agent import Agent


@dataclass
class DQNConfig(TrainConfig):
    """DQN hyperparameters (on top of the shared training settings)."""

    buffer_size: int = 100_000
    """replay buffer capacity in transitions"""
    learning_rate: float = 1e-4
    """Adam step size"""
    anneal_lr: bool = False
    """decay the learning rate linearly to 0 over training (steadier final policy)"""
    adam_eps: float = 1e-8
    """Adam epsilon"""
    batch_size: int = 64
    """transitions per gradient step"""
    learning_starts: int = 1_000
    """env steps of uniformly random actions before the first gradient step"""
    train_freq: int = 4
    """vector-env steps between training rounds"""
    gradient_steps: int = 1
    """gradient steps per training round (-1: one per env step collected)"""
    target_update_interval: int = 1_000
    """env steps between target network updates"""
    tau: float = 1.0
    """target update theta' <- tau theta + (1 - tau) theta' (1: hard copy)"""
    exploration_initial_eps: float = 1.0
    """epsilon at the start of training"""
    exploration_final_eps: float = 0.05
    """epsilon after the decay"""
    exploration_fraction: float = 0.1
    """fraction of training over which epsilon decays linearly"""
    loss: Literal["huber", "mse"] = "huber"
    """TD loss: Huber (smooth L1, delta 1) or squared error"""
    max_grad_norm: float | None = 10.0
    """clip the global gradient norm to this (None: no clipping)"""
    double_q: bool = True
    """double Q-learning: the online network selects the next action, the target evaluates it"""
    dueling: bool = False
    """dueling head Q = V + A - mean(A)"""
    n_step: int = 1
    """n-step returns (1: ordinary one-step TD targets)"""
    prioritized: bool = True
    """prioritized experience replay (else uniform)"""
    per_alpha: float = 0.6
    """priority exponent: p = (|delta| + eps)^alpha (0: uniform)"""
    per_beta: float = 0.4
    """initial importance-weight exponent, annealed linearly to 1 over training"""
    per_eps: float = 1e-6
    """added to |delta| so that no transition has zero priority"""
    frame_sharing: Literal["auto", "on", "off"] = "auto"
    """store each frame of stacked-frame observations once (rlkit.core.frame_replay: 1M Atari
    transitions in 7.5 GB, not 56): auto for uint8 (k, H, W) stacks with small k, on, or off"""
    q_head: Literal["linear", "bayes_linear"] = "linear"
    """Q head: linear (trained by gradient), or bayes_linear (BDQN: the posterior mean of a
    Bayesian linear regression per action on the torso's features, refit from the buffer)"""
    exploration: Literal["epsilon_greedy", "thompson"] = "epsilon_greedy"
    """epsilon_greedy, or thompson: each env acts greedily on weights drawn from the
    bayes_linear posterior at the start of each episode (needs q_head: bayes_linear)"""
    posterior_update_interval: int = 1_000
    """env steps between refits of the bayes_linear posterior on the whole replay buffer"""
    posterior_sweeps: int = 1
    """bayes_linear refit sweeps: each draws weights from the latest posterior and refits the
    targets they give, carrying values one more step back (a chain of N states needs N)"""
    prior_std: float = 1.0
    """sigma_p, the bayes_linear prior w ~ N(0, sigma_p^2 I)"""
    noise_std: float = 1.0
    """sigma_n, the bayes_linear noise of the TD targets: y ~ N(w^T phi, sigma_n^2)"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        for key in ("buffer_size", "batch_size", "train_freq", "target_update_interval",
                    "n_step", "posterior_update_interval", "posterior_sweeps"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key '{key}' must be >= 1, got {getattr(self, key)}")
        if self.gradient_steps < 1 and self.gradient_steps != -1:
            raise ConfigError(f"config key 'gradient_steps' must be >= 1 or -1, "
                              f"got {self.gradient_steps}")
        if self.learning_starts < 0:
            raise ConfigError(f"config key 'learning_starts' must be >= 0, "
                              f"got {self.learning_starts}")
        if self.batch_size > self.buffer_size:
            raise ConfigError(f"config key 'batch_size' ({self.batch_size}) must not exceed "
                              f"'buffer_size' ({self.buffer_size})")
        if self.learning_rate <= 0 or not 0.0 < self.tau <= 1.0:
            raise ConfigError("config keys need learning_rate > 0 and 0 < tau <= 1")
        for key in ("exploration_initial_eps", "exploration_final_eps", "per_beta"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"config key '{key}' must lie in [0, 1], "
                                  f"got {getattr(self, key)}")
        if not 0.0 < self.exploration_fraction <= 1.0:
            raise ConfigError(f"config key 'exploration_fraction' must lie in (0, 1], "
                              f"got {self.exploration_fraction}")
        if self.per_alpha < 0 or self.per_eps <= 0:
            raise ConfigError("config keys need per_alpha >= 0 and per_eps > 0")
        if self.frame_sharing not in FRAME_SHARING:
            raise ConfigError(f"config key 'frame_sharing' must be one of "
                              f"{', '.join(FRAME_SHARING)}; got {self.frame_sharing!r}")
        if self.exploration == "thompson" and self.q_head != "bayes_linear":
            raise ConfigError("exploration: thompson samples the Q head's posterior; set "
                              "q_head: bayes_linear too")
        if self.q_head == "bayes_linear" and self.dueling:
            raise ConfigError("q_head: bayes_linear is a plain linear head; set dueling: false")
        if self.prior_std <= 0 or self.noise_std <= 0:
            raise ConfigError("config keys need prior_std > 0 and noise_std > 0")
        if self.max_grad_norm is not None and self.max_grad_norm <= 0:
            raise ConfigError(f"config key 'max_grad_norm' must be > 0 or null, "
                              f"got {self.max_grad_norm}")


def td_target(
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    discounts: torch.Tensor | float,
) -> torch.Tensor:
    """y = r + gamma^m * (1 - terminated) * V(s'), with V(s') the bootstrap value of s'."""
    return rewards + discounts * (1.0 - terminated) * next_values


def max_q_values(next_q_target: torch.Tensor,
                 next_masks: torch.Tensor | None = None) -> torch.Tensor:
    """DQN bootstrap: V(s') = max_b Q_target(s', b), over the valid b where masks are given."""
    return masked_logits(next_q_target, next_masks).amax(dim=1)


def double_q_values(next_q_online: torch.Tensor, next_q_target: torch.Tensor,
                    next_masks: torch.Tensor | None = None) -> torch.Tensor:
    """Double-Q bootstrap: V(s') = Q_target(s', argmax_b Q_online(s', b)), b valid."""
    best = masked_logits(next_q_online, next_masks).argmax(dim=1, keepdim=True)
    return next_q_target.gather(1, best).squeeze(1)


def q_loss(
    q: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None, kind: str = "huber"
) -> torch.Tensor:
    """E[w * l(Q - y)], l(d) = d^2 / 2 if |d| < 1 else |d| - 1/2 (huber) or d^2 (mse)."""
    loss = nn.functional.smooth_l1_loss if kind == "huber" else nn.functional.mse_loss
    if weights is None:
        return loss(q, targets)
    return (weights * loss(q, targets, reduction="none")).mean()


def linear_schedule(start: float, end: float, fraction: float, progress: float) -> float:
    """start -> end linearly while ``progress`` (0 -> 1) goes 0 -> ``fraction``, then end."""
    return start + (end - start) * min(1.0, progress / fraction)


class DQN(Agent):
    name = "dqn"
    Config = DQNConfig
    config: DQNConfig
    action_spaces = (gym.spaces.Discrete,)
    packs_observations = True

    def setup(self) -> None:
        cfg = self.config
        space = self.input_space
        self.n_actions = int(self.action_space.n)
        self.action_offset = int(self.action_space.start)
        self.bayes = cfg.q_head == "bayes_linear"
        self.thompson = cfg.exploration == "thompson"
        self.q_net = QNetwork(space, self.n_actions, cfg.approximator, cfg.dueling,
                              bayes=self.bayes).to(self.device)
        if self.bayes:
            dim = self.q_net.torso.out_dim + 1  # the features and a constant
            self.posterior = BayesianLinearRegression(dim, self.n_actions, cfg.prior_std**2,
                                                      cfg.noise_std**2)
            self.posterior_step = -1  # global_step of the latest refit (-1: none yet)
            # each env's Thompson weights, redrawn where ``redraw`` (at its episode starts)
            self.thompson_weights = torch.zeros(cfg.n_envs, self.n_actions, dim,
                                                device=self.device)
            self.redraw = np.ones(cfg.n_envs, dtype=bool)
        self.q_target = copy.deepcopy(self.q_net).requires_grad_(False).eval()
        # A fixed feature map under the Bayesian head has no weights to train: the posterior
        # refits are all its learning (tabular RLSVI on one-hot features).
        self.trains_by_gradient = any(p.requires_grad for p in self.q_net.parameters())
        self.optimizer = FlatOptimizer(self.q_net, torch.optim.Adam, lr=cfg.learning_rate,
                                       eps=cfg.adam_eps) if self.trains_by_gradient else None
        # (s, a, y, w) -> L, Q(s, a), with dL/dtheta written into the parameters' .grad
        self.loss_gradient = self.q_net.loss_gradient(
            lambda q, y, w: q_loss(q, y, w, cfg.loss), cfg.loss)
        obs_dtype = stored_obs_dtype(space)  # raw observations: frames stay uint8 or bool
        buffer_args = dict(
            capacity=cfg.buffer_size,
            obs_shape=space.shape,
            action_shape=(),
            obs_dtype=obs_dtype,
            action_dtype=np.int64,
            store_discounts=cfg.n_step > 1,
        )
        buffer_class = replay_buffer_class(space, obs_dtype, cfg.frame_sharing, cfg.prioritized)
        per_args = dict(alpha=cfg.per_alpha, eps=cfg.per_eps) if cfg.prioritized else {}
        self.buffer: ReplayBuffer = buffer_class(**buffer_args, **per_args)
        # the valid actions at each stored transition's next state, by buffer row, once the env
        # gives action masks (None before): what the TD target maximizes over
        self.next_masks: np.ndarray | None = None
        self.nstep = (
            NStepAccumulator(cfg.n_envs, cfg.n_step, cfg.gamma, space.shape, (), obs_dtype)
            if cfg.n_step > 1
            else None
        )
        self._collect_start = 0  # global_step before the latest collect()
        self._vector_steps = 0  # vector steps in the latest collect()

    def modules(self) -> dict[str, Any]:
        modules = {"q_net": self.q_net, "q_target": self.q_target, "optimizer": self.optimizer}
        return {key: module for key, module in modules.items() if module is not None}

    def extra_state(self) -> dict[str, Any]:
        state = {
            "buffer": self.buffer.state_dict(),
            "nstep": self.nstep.state_dict() if self.nstep is not None else None,
            "next_masks": self.next_masks,
        }
        if self.bayes:
            state["posterior"] = {
                "mean": self.posterior.mean, "cholesky": self.posterior.cholesky,
                "step": self.posterior_step, "thompson_weights": self.thompson_weights.cpu(),
                "redraw": torch.as_tensor(self.redraw),
            }
        return state

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "buffer" in state:
            self.buffer.load_state_dict(state["buffer"])
        if self.nstep is not None and state.get("nstep") is not None:
            self.nstep.load_state_dict(state["nstep"])
        if state.get("next_masks") is not None:
            self.next_masks = np.asarray(state["next_masks"], dtype=bool).copy()
        if self.bayes and "posterior" in state:
            posterior = state["posterior"]
            self.posterior.mean.copy_(posterior["mean"])
            self.posterior.cholesky = posterior["cholesky"].clone()
            self.posterior_step = int(posterior["step"])
            self.thompson_weights.copy_(posterior["thompson_weights"])
            self.redraw = posterior["redraw"].numpy().copy()

    def on_fresh_episodes(self) -> None:
        # transitions pending from the episodes before would be completed with the new
        # episodes' rewards and observations
        if self.nstep is not None:
            self.nstep.clear()
        if self.thompson:
            self.redraw[:] = True  # every env begins an episode: each draws its weights anew

    # --- acting ---------------------------------------------------------------------------
    @property
    def epsilon(self) -> float:
        cfg = self.config
        if self.thompson:
            return 0.0  # the posterior draws explore
        return linear_schedule(cfg.exploration_initial_eps, cfg.exploration_final_eps,
                               cfg.exploration_fraction, 1.0 - self.progress_remaining)

    def _thompson_q(self, obs: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Q~(s, a) = w_a^T [phi(s), 1] with one weight matrix per row (B x n_actions x d)."""
        features = self.q_net.torso(obs)
        features = torch.cat([features, features.new_ones(len(features), 1)], dim=1)
        return torch.einsum("bd,bad->ba", features, weights)

    def act(self, obs: torch.Tensor, deterministic: bool = False,
            action_masks: torch.Tensor | None = None) -> torch.Tensor:
        """argmax_a Q(s, a) over the valid actions (epsilon-greedy, or a Thompson draw's Q,
        unless ``deterministic``), as ids from 0 (``predict`` shifts them by the space's
        ``start``)."""
        if self.thompson and not deterministic:  # a fresh posterior draw for each row
            draws = torch.stack([self.posterior.sample(self.generator) for _ in range(len(obs))])
            q = self._thompson_q(obs, draws.to(obs.device))
            return masked_logits(q, action_masks).argmax(dim=1)
        actions = masked_logits(self.q_net(obs), action_masks).argmax(dim=1)
        if not deterministic:
            explore = torch.rand(len(obs), generator=self.generator) < self.epsilon
            if action_masks is None:
                random = torch.randint(self.n_actions, (len(obs),), generator=self.generator)
            else:  # uniform over the valid actions
                random = torch.multinomial(action_masks.float().cpu(), 1,
                                           generator=self.generator).squeeze(1)
            actions = torch.where(explore.to(actions.device), random.to(actions.device), actions)
        return actions

    def _explore(self, obs: np.ndarray, epsilon: float,
                 greedy: Callable[[np.ndarray], np.ndarray],
                 masks: np.ndarray | None = None) -> np.ndarray:
        """Epsilon-greedy action indices (0-based) for raw observations of every env; only
        valid ones where ``masks`` is given."""
        n = len(obs)
        explore = self.rng.random(n) < epsilon
        n_explore = int(np.count_nonzero(explore))
        if n_explore == n:  # skip the forward pass (always, before learning starts)
            return self._uniform_actions(n, masks)
        rows = self.preprocess_array(obs)
        if masks is None:
            actions = greedy(rows)
        else:
            q = self._masked_q(to_tensor(rows, self.device))
            actions = masked_logits(q, torch.as_tensor(masks, device=q.device)).argmax(1)
            actions = actions.cpu().numpy()
        if n_explore:
            actions[explore] = self._uniform_actions(
                n_explore, None if masks is None else masks[explore])
        return actions

    def _uniform_actions(self, k: int, masks: np.ndarray | None) -> np.ndarray:
        """``k`` actions drawn uniformly: from every action, or from each row's valid ones
        (the argmax of uniform noise over them)."""
        if masks is None:
            return self.rng.integers(self.n_actions, size=k)
        return np.argmax(self.rng.random((k, self.n_actions)) * masks, axis=1)

    def _masked_q(self, obs: torch.Tensor) -> torch.Tensor:
        """The Q values acting is greedy in: each env's Thompson draw's, or the network's."""
        if self.thompson:
            return self._thompson_q(obs, self.thompson_weights)
        return self.q_net(obs)

    def collect(self) -> None:
        """Step every env until the next training round (``train_freq`` vector steps)."""
        cfg = self.config
        runner, n_envs = self.runner, cfg.n_envs
        # Rounds sit at fixed multiples of train_freq, so a resumed run trains at the same steps.
        steps = cfg.train_freq - (self.global_step // n_envs) % cfg.train_freq
        steps = max(1, min(steps, -(-(self.end_step - self.global_step) // n_envs)))
        self._collect_start = self.global_step
        self._vector_steps = steps
        buffer, nstep = self.buffer, self.nstep
        greedy = self.q_net.greedy_policy()  # argmax_a Q(s, a) on the current parameters
        if self.thompson:
            def greedy(rows: np.ndarray) -> np.ndarray:  # argmax_a of each env's own draw
                q = self._thompson_q(to_tensor(rows, self.device), self.thompson_weights)
                return q.argmax(dim=1).cpu().numpy()
        # One inference_mode for the loop (entering it costs a few microseconds per step).
        with torch.inference_mode(), eval_mode(self.q_net):
            for _ in range(steps):
                obs = runner.obs
                if self.global_step < cfg.learning_starts:
                    epsilon = 1.0
                else:
                    epsilon = self.epsilon
                if self.thompson and self.redraw.any():
                    self._draw_thompson_weights()
                actions = self._explore(obs, epsilon, greedy, runner.action_masks())
                step = runner.step(actions + self.action_offset if self.action_offset else actions)
                next_masks = runner.action_masks()  # those of step.next_obs
                if self.thompson:
                    self.redraw |= step.terminated | step.truncated
                if nstep is None:
                    rows = buffer.add(obs, actions, step.rewards, step.next_obs, step.terminated,
                                      step.valid)
                    if next_masks is not None:
                        self._store_next_masks(rows, next_masks[step.valid])
                else:
                    out = nstep.add(obs, actions, step.rewards, step.next_obs, step.terminated,
                                    step.truncated, step.valid, next_masks)
                    if out is not None:
                        rows = buffer.add(out.obs, out.actions, out.rewards, out.next_obs,
                                          out.terminated, discounts=out.discounts)
                        if out.next_action_masks is not None:
                            self._store_next_masks(rows, out.next_action_masks)
                self.global_step += n_envs

    def _store_next_masks(self, rows: np.ndarray, masks: np.ndarray) -> None:
        if self.next_masks is None:
            self.next_masks = np.ones((self.config.buffer_size, self.n_actions), dtype=bool)
        self.next_masks[rows] = masks

    def _batch_next_masks(self, batch: ReplayBatch) -> torch.Tensor | None:
        """The valid actions at the sampled transitions' next states (None: no masks)."""
        if self.next_masks is None:
            return None
        return torch.as_tensor(self.next_masks[batch.indices], device=self.device)

    def _draw_thompson_weights(self) -> None:
        """w ~ N(mu_a, Sigma_a) for every action, for the envs whose episode starts."""
        for env in np.flatnonzero(self.redraw):
            self.thompson_weights[env] = self.posterior.sample(self.generator).to(self.device)
        self.redraw[:] = False

    # --- learning -------------------------------------------------------------------------
    @torch.no_grad()
    def refit_posterior(self) -> None:
        """Refit each action's Bayesian linear regression on the whole replay buffer, features
        [phi(s_i), 1] against targets y_i = r_i + gamma^m (1 - terminated_i) max_b w~_b^T
        [phi(s'_i), 1], and make its mean the Q head.

        w~ is a draw from the posterior rather than its mean, as in randomized least-squares
        value iteration (Osband et al. 2016): the uncertainty about s' then reaches the value of
        s, so a state next to unexplored ones is worth exploring. With mean targets an
        unexplored state is worth exactly the prior mean, 0, and a chain whose steps cost
        something is never walked. Each of ``posterior_sweeps`` sweeps (one more step back per
        sweep) takes its draw mu + sigma_n L^-T z from the posterior the previous sweep fit,
        with one noise vector z for the whole refit: fresh noise per sweep would make each
        state compare independent draws and undo the deep exploration. The features, and so
        the Cholesky factors, are computed once per refit.
        """
        cfg, rows = self.config, len(self.buffer)
        parts: dict[str, list[torch.Tensor]] = {key: [] for key in
                                                 ("phi", "next_phi", "r", "done", "discount")}
        with eval_mode(self.q_net):
            for start in range(0, rows, 4096):
                batch = self.buffer.batch(np.arange(start, min(start + 4096, rows)), self.device)
                parts["phi"].append(self.q_net.torso(self._inputs(batch.obs)).cpu())
                parts["next_phi"].append(self.q_net.torso(self._inputs(batch.next_obs)).cpu())
                parts["r"].append(batch.rewards.cpu())
                parts["done"].append(batch.terminated.cpu())
                discounts = _discounts(batch, cfg.gamma)
                parts["discount"].append(torch.full_like(batch.rewards.cpu(), discounts)
                                         if isinstance(discounts, float) else discounts.cpu())
        with_bias = [torch.cat([phi, phi.new_ones(len(phi), 1)], dim=1)
                     for phi in (torch.cat(parts["phi"]), torch.cat(parts["next_phi"]))]
        phi, next_phi = with_bias
        rewards, terminated, discounts = (torch.cat(parts[k]) for k in ("r", "done", "discount"))
        actions = torch.from_numpy(self.buffer.actions[:rows])
        self.posterior.set_inputs(phi, actions)
        z = torch.randn(self.n_actions, phi.shape[1], generator=self.generator)
        next_masks = None if self.next_masks is None else torch.from_numpy(self.next_masks[:rows])
        for _ in range(cfg.posterior_sweeps):
            draw = self.posterior.sample(z=z)  # n_actions x d
            next_values = max_q_values(next_phi @ draw.T, next_masks)
            self.posterior.solve(td_target(rewards, next_values, terminated, discounts))
        self.q_net.head.set_weights(self.posterior.mean.to(self.device))
        self.posterior_step = self.global_step

    def _inputs(self, obs: torch.Tensor) -> torch.Tensor:
        """Stored raw observations -> network inputs (normalized with the current stats)."""
        if self.obs_normalizer is None:
            return obs
        return to_tensor(self.obs_normalizer(obs.cpu().numpy()), self.device)

    def _update_target(self) -> None:
        """theta' <- tau theta + (1 - tau) theta', once per target_update_interval crossed."""
        cfg = self.config
        interval = cfg.target_update_interval
        k = self.global_step // interval - self._collect_start // interval
        if k <= 0:
            return
        # The online net did not change while collecting: k updates in a row equal one with
        # tau_k = 1 - (1 - tau)^k.
        tau = 1.0 - (1.0 - cfg.tau) ** k
        with torch.no_grad():
            online = [*self.q_net.parameters(), *self.q_net.buffers()]
            target = [*self.q_target.parameters(), *self.q_target.buffers()]
            if tau == 1.0:
                torch._foreach_copy_(target, online)
                return
            for t, o in zip(target, online, strict=True):
                if not t.is_floating_point():  # batch norm's step counter: copied
                    t.copy_(o)
            floating = [(t, o) for t, o in zip(target, online, strict=True)
                        if t.is_floating_point()]
            torch._foreach_lerp_([t for t, _ in floating], [o for _, o in floating], tau)

    def _next_values(self, next_obs: torch.Tensor, next_q_target: torch.Tensor,
                     next_masks: torch.Tensor | None = None) -> torch.Tensor:
        """V(s') in the TD target: max_b Q_target(s', b), or Q_target(s', argmax_b Q(s', b)),
        over the valid actions b where the env gives masks."""
        if self.config.double_q:
            return double_q_values(self.q_net(next_obs), next_q_target, next_masks)
        return max_q_values(next_q_target, next_masks)

    def _gradient_step(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        targets: torch.Tensor,
        weights: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One Adam step on E[w * l(Q(s, a) - y)]; returns the loss and Q(s, a) (detached)."""
        self.optimizer.zero_grad()
        loss, q = self.loss_gradient(obs, actions, targets, weights)
        self.optimizer.step(max_grad_norm=self.config.max_grad_norm)
        self.n_updates += 1
        return loss, q

    def update(self) -> dict[str, Any]:
        cfg = self.config
        self._update_target()
        epsilon = self.epsilon
        if self.global_step <= cfg.learning_starts or len(self.buffer) < cfg.batch_size:
            return {"charts/epsilon": epsilon}
        if self.bayes and (self.posterior_step < 0 or self.global_step - self.posterior_step
                           >= cfg.posterior_update_interval):
            self.refit_posterior()
        if not self.trains_by_gradient:
            return {"charts/epsilon": epsilon}
        n_grad = cfg.gradient_steps if cfg.gradient_steps > 0 else self._vector_steps * cfg.n_envs
        lr = cfg.learning_rate * (self.progress_remaining if cfg.anneal_lr else 1.0)
        self.optimizer.set_lr(lr)
        out: dict[str, Any] = {"charts/epsilon": epsilon, "charts/learning_rate": lr}
        losses, q_values = [], []  # stacked once at the end: no per-step tensor writes

        if isinstance(self.buffer, PrioritizedReplayBuffer):
            beta = cfg.per_beta + (1.0 - cfg.per_beta) * (1.0 - self.progress_remaining)
            out["charts/per_beta"] = beta
            for _ in range(n_grad):  # each draw depends on the priorities the last step wrote
                batch = self.buffer.sample(cfg.batch_size, self.rng, self.device, beta=beta)
                with torch.no_grad():
                    next_obs = self._inputs(batch.next_obs)
                    next_values = self._next_values(next_obs, self.q_target(next_obs),
                                                    self._batch_next_masks(batch))
                    targets = td_target(batch.rewards, next_values, batch.terminated,
                                        _discounts(batch, cfg.gamma))
                loss, q = self._gradient_step(
                    self._inputs(batch.obs), batch.actions, targets, batch.weights)
                losses.append(loss)
                q_values.append(q)
                td_errors = q - targets
                self.buffer.update_priorities(batch.indices, td_errors.cpu().numpy())
        else:
            # Uniform draws do not depend on the network and the target network is fixed for
            # the round, so the round's minibatches and Q_target(s', .) come from one large
            # pass (far cheaper than n_grad small ones); without double Q so do the targets.
            batch = self.buffer.sample(n_grad * cfg.batch_size, self.rng, self.device)
            obs, next_obs = self._inputs(batch.obs), self._inputs(batch.next_obs)
            discounts = _discounts(batch, cfg.gamma)
            next_masks = self._batch_next_masks(batch)
            with torch.no_grad():
                # Chunks of 512 rows keep the activations in cache: twice as fast as one pass.
                next_q_target = torch.cat([self.q_target(chunk) for chunk in next_obs.split(512)])
                if not cfg.double_q:
                    targets = td_target(batch.rewards, max_q_values(next_q_target, next_masks),
                                        batch.terminated, discounts)
            for i in range(n_grad):
                rows = slice(i * cfg.batch_size, (i + 1) * cfg.batch_size)
                if cfg.double_q:
                    with torch.no_grad():
                        next_values = self._next_values(
                            next_obs[rows], next_q_target[rows],
                            None if next_masks is None else next_masks[rows])
                        rows_targets = td_target(
                            batch.rewards[rows], next_values, batch.terminated[rows],
                            discounts if isinstance(discounts, float) else discounts[rows])
                else:
                    rows_targets = targets[rows]
                loss, q = self._gradient_step(obs[rows], batch.actions[rows], rows_targets, None)
                losses.append(loss)
                q_values.append(q)
        out["losses/td_loss"] = torch.stack(losses).mean()
        out["losses/q_values"] = torch.stack(q_values).mean()
        return out


def _discounts(batch: ReplayBatch, gamma: float) -> torch.Tensor | float:
    """Per-transition bootstrap discounts gamma^m (n-step), or the constant gamma."""
    return gamma if batch.discounts is None else batch.discounts
