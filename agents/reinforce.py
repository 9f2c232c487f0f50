"""REINFORCE: Monte-Carlo policy gradient over complete episodes (Williams 1992).

``n_envs`` envs are stepped together; their steps wait in an
:class:`~rlkit.core.buffers.EpisodeBuffer` until their episodes end. Once ``batch_episodes``
episodes are complete (or ``batch_steps`` env steps were taken) one gradient step is taken on every
complete episode with

    L = -E_t[log pi(a_t|s_t) (G_t - b_t)] + c_v E_t[(V(s_t) - G_t)^2] - c_e E_t[H(pi(.|s_t))]

where G_t = sum_k gamma^k r_{t+k} is the reward-to-go within the episode and the baseline b_t
is 0 (``none``), a running mean of G (``mean``) or a learned V(s_t) (``value``; only then is the
value term used). Any baseline that does not depend on a_t leaves the gradient unbiased and
lowers its variance. As in Sutton and Barto's algorithm box, pi and V are two learners with two
step sizes (``learning_rate``, ``value_learning_rate``), each with its own gradient clip.

Two choices the estimator needs:

* episodes still running at an update are not used; they stay stored, finish under the
  updated policy and are used by the next update. Their early actions were drawn from the
  previous policy (one update stale), a small bias traded for not throwing steps away.
* a truncated episode (time limit) did not end: with a learned value its return is
  bootstrapped, G_T = r_T + gamma V(s_{T+1}) at the truncated step. Without one (``none``,
  ``mean``) there is nothing to bootstrap from and it is scored as if it had terminated.

With a memory torso (``lstm``, ``gru``, ``rnn``, ``attention``) the update replays each
complete episode from the initial state at its start, which is the state it acted from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from rlkit.approximators.heads import ActorCritic
from rlkit.config import PolicyGradientConfig
from rlkit.core.aligned import to_tensor
from rlkit.core.buffers import EpisodeBuffer, RolloutBuffer, normalize_advantages, reward_to_go
from rlkit.core.optim import FlatOptimizer
from rlkit.core.rollout import collect_rollout, rollout_shapes
from rlkit.errors import ConfigError
from rlkit.training.agent import RolloutAgent


@dataclass
class ReinforceConfig(PolicyGradientConfig):
    """REINFORCE hyperparameters (on top of the shared training settings)."""

    batch_episodes: int = 8
    """update once this many episodes are complete (0: only batch_steps triggers updates)"""
    batch_steps: int = 0
    """or once this many env steps were taken since the last update (0: off)"""
    rollout_steps: int = 16
    """steps per env collected between checks of the update trigger"""
    baseline: Literal["none", "mean", "value"] = "value"
    """b_t: none, a running mean of the returns, or a learned value function V(s_t)"""
    mean_decay: float = 0.9
    """the mean baseline is an exponential moving average of batch means with this decay"""
    learning_rate: float = 1e-3
    """Adam step size of the policy"""
    value_learning_rate: float | None = None
    """Adam step size of the learned value function (None: learning_rate)"""
    adam_eps: float = 1e-5
    """Adam epsilon"""
    normalize_advantage: bool = False
    """standardize G - b over each batch"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        if self.rollout_steps < 1:
            raise ConfigError(f"config key 'rollout_steps' must be >= 1, got {self.rollout_steps}")
        if self.batch_episodes < 0 or self.batch_steps < 0:
            raise ConfigError("config keys 'batch_episodes' and 'batch_steps' must be >= 0")
        if self.batch_episodes == 0 and self.batch_steps == 0:
            raise ConfigError("set 'batch_episodes' or 'batch_steps' (> 0) to trigger updates")
        if not 0.0 <= self.mean_decay < 1.0:
            raise ConfigError(f"config key 'mean_decay' must lie in [0, 1), got {self.mean_decay}")
        if self.learning_rate <= 0 or self.max_grad_norm <= 0:
            raise ConfigError("config keys 'learning_rate' and 'max_grad_norm' must be > 0")


def reinforce_loss(
    log_probs: torch.Tensor, returns: torch.Tensor, baseline: torch.Tensor | float
) -> torch.Tensor:
    """-E_t[log pi(a_t|s_t) (G_t - b_t)]; the baseline gets no gradient.

    Minimizing it raises the log-probability of actions whose return beat the baseline.
    """
    if isinstance(baseline, torch.Tensor):
        baseline = baseline.detach()
    return -(log_probs * (returns - baseline)).mean()


class Reinforce(RolloutAgent):
    name = "reinforce"
    Config = ReinforceConfig
    config: ReinforceConfig

    def setup(self) -> None:
        cfg = self.config
        self.policy = ActorCritic.from_config(
            self.input_space, self.action_space, cfg
        ).to(self.device)
        # The policy and the value function are two learners (two step sizes in Sutton and
        # Barto's algorithm box), each with its own gradient clip: under one joint clip the
        # value loss, whose gradients are far larger early on, would shrink the policy's step.
        self.optimizer = FlatOptimizer(self.policy.actor_parameters(), torch.optim.Adam,
                                       lr=cfg.learning_rate, eps=cfg.adam_eps)
        self.value_optimizer = (
            FlatOptimizer(self.policy.critic_parameters(), torch.optim.Adam,
                          lr=self.value_learning_rate, eps=cfg.adam_eps)
            if cfg.baseline == "value"
            else None
        )
        shapes = rollout_shapes(self.input_space, self.action_space, cfg.normalize_obs)
        # the shared collector fills this chunk; whole episodes accumulate in self.episodes
        self.chunk = RolloutBuffer(cfg.rollout_steps, cfg.n_envs, **shapes)
        self.episodes = EpisodeBuffer(cfg.n_envs, **shapes)
        self.mean_return: float | None = None  # the ``mean`` baseline

    @property
    def value_learning_rate(self) -> float:
        cfg = self.config
        return cfg.learning_rate if cfg.value_learning_rate is None else cfg.value_learning_rate

    @property
    def steps_per_collect(self) -> int:
        """Env steps of one chunk; ``collect`` gathers whole chunks."""
        return self.config.rollout_steps * self.config.n_envs

    def modules(self) -> dict[str, Any]:
        modules = super().modules()
        if self.value_optimizer is not None:
            modules["value_optimizer"] = self.value_optimizer
        return modules

    def extra_state(self) -> dict[str, Any]:
        return {"episodes": self.episodes.state_dict(), "mean_return": self.mean_return}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "episodes" in state:
            self.episodes.load_state_dict(state["episodes"])
            self.mean_return = state["mean_return"]

    def on_fresh_episodes(self) -> None:
        self.episodes.clear()  # the running episodes' first steps: their ends never come

    def collect(self) -> None:
        """Step the envs chunk by chunk until the update trigger fires, or until another chunk
        would exceed the training budget."""
        cfg = self.config
        steps = 0
        while True:
            collect_rollout(
                self.runner, self.chunk, self.policy, self.preprocess, self.action_space,
                cfg.gamma, 1.0,
            )  # fmt: skip
            self.episodes.extend(self.chunk)
            steps += self.steps_per_collect
            if (
                (cfg.batch_episodes and self.episodes.n_complete() >= cfg.batch_episodes)
                or (cfg.batch_steps and steps >= cfg.batch_steps)
                or self.global_step + steps + self.steps_per_collect > self.end_step
            ):
                break
        self.global_step += steps

    def _returns(self, batch: Any) -> np.ndarray:
        """Reward-to-go of every step; truncations bootstrap from V when V is learned."""
        bootstrap = None
        if self.config.baseline == "value":
            t, j = np.nonzero(batch.truncated & batch.mask)
            bootstrap = np.zeros_like(batch.rewards)
            if len(t):
                with torch.no_grad():
                    bootstrap[t, j] = self._final_values(batch, t, j).cpu().numpy()
        return reward_to_go(
            batch.rewards, batch.terminated, batch.truncated, self.config.gamma, bootstrap
        )

    def _final_values(self, batch: Any, t: np.ndarray, j: np.ndarray) -> torch.Tensor:
        """V of the true final observations, stored in the rows after truncations (t, j). A
        memory torso reads them at the end of their episodes' sequences."""
        if not self.policy.has_memory:
            return self.policy.get_value(to_tensor(batch.obs[t + 1, j], self.device))
        obs, starts = (to_tensor(x, self.device) for x in (batch.obs, batch.episode_starts))
        values, _ = self.policy.rollout_values(
            obs, self.policy.initial_state(batch.obs.shape[1]), starts)
        return values[torch.as_tensor(t + 1), torch.as_tensor(j)]

    def _evaluate(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log pi(a|s), entropy, V(s)) of the masked steps in (step, env) order. A memory
        torso replays every column from the initial state: each complete episode starts (and
        resets the state) inside the batch, so its steps see exactly the memory they acted
        with."""
        mask, masks = batch.mask, batch.action_masks  # the steps to learn from; valid actions
        if not self.policy.has_memory:
            return self.policy.evaluate_actions(
                to_tensor(batch.obs[mask], self.device),  # in torch's memory (rlkit.core.aligned)
                to_tensor(batch.actions[mask], self.device),
                None if masks is None else torch.as_tensor(masks[mask], device=self.device))
        obs, actions, starts, mask = (
            to_tensor(x, self.device)
            for x in (batch.obs, batch.actions, batch.episode_starts, batch.mask))
        masks = None if masks is None else torch.as_tensor(masks, device=self.device)
        return self.policy.replay(obs, actions, starts, mask,
                                  self.policy.initial_state(batch.obs.shape[1]), masks)

    def update(self) -> dict[str, Any]:
        cfg = self.config
        batch = self.episodes.take_complete()
        if batch is None:
            return {}
        decay = self.progress_remaining if cfg.anneal_lr else 1.0
        lr = cfg.learning_rate * decay
        self.optimizer.set_lr(lr)
        if self.value_optimizer is not None:
            self.value_optimizer.set_lr(self.value_learning_rate * decay)
        mask = batch.mask
        returns = torch.as_tensor(self._returns(batch)[mask], device=self.device)
        log_probs, entropy, values = self._evaluate(batch)

        if cfg.baseline == "value":
            baseline: torch.Tensor | float = values.detach()
        elif cfg.baseline == "mean":
            batch_mean = float(returns.mean())
            if self.mean_return is None:  # first batch: its own mean
                self.mean_return = batch_mean
            baseline = self.mean_return
            self.mean_return = cfg.mean_decay * self.mean_return + (1 - cfg.mean_decay) * batch_mean
        else:
            baseline = 0.0
        advantages = returns - baseline
        if cfg.normalize_advantage:
            advantages = normalize_advantages(advantages)
        policy_loss = reinforce_loss(log_probs, advantages, 0.0)
        mean_entropy = entropy.mean()
        loss = policy_loss
        if cfg.ent_coef:  # with a zero coefficient the entropy stays out of backward
            loss = loss - cfg.ent_coef * mean_entropy
        metrics: dict[str, Any] = {}
        if cfg.baseline == "value":
            v_loss = (values - returns).pow(2).mean()
            loss = loss + cfg.vf_coef * v_loss
            metrics["losses/value_loss"] = v_loss.detach()

        optimizers = [opt for opt in (self.optimizer, self.value_optimizer) if opt is not None]
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss.backward()
        for optimizer in optimizers:
            optimizer.step(max_grad_norm=cfg.max_grad_norm)
        self.n_updates += 1
        metrics.update({
            "losses/policy_loss": policy_loss.detach(),
            "losses/entropy": mean_entropy.detach(),
            "charts/episodes_per_update": batch.n_episodes,
            "charts/steps_per_update": int(mask.sum()),
            "charts/learning_rate": lr,
        })  # fmt: skip
        if cfg.baseline == "mean":
            metrics["charts/mean_baseline"] = self.mean_return
        return metrics
