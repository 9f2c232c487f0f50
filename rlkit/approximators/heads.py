"""Heads that sit on a torso: action distributions, state values and action values.

Policy heads return ``torch.distributions`` objects; PPO, A2C and REINFORCE all use
:class:`ActorCritic` and differ only in their losses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Bernoulli, Categorical, Distribution, Independent, Normal

from rlkit import fast
from rlkit.approximators import MLP, FeedForward, State, build_torso, orthogonal_init
from rlkit.approximators.autoencoder import AuxiliaryLoss, auxiliary_loss
from rlkit.config import ApproximatorConfig
from rlkit.core.aligned import to_tensor
from rlkit.core.buffers import RolloutBatch, SequenceBatch
from rlkit.errors import ConfigError, RlkitError
from rlkit.fast.numpy_forward import NumpyFunction, numpy_q_function
from rlkit.fast.td_gradient import LossFn, QLossGradient

LossGradient = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None],
                        tuple[torch.Tensor, torch.Tensor]]


def feed_forward_torso(obs_space: gym.Space, approximator: ApproximatorConfig,
                       hint: str) -> nn.Module:
    """A torso without memory, or a one-line error: the rollout core does not carry a
    recurrent torso's state through collection and updates yet."""
    torso = build_torso(obs_space, approximator)
    if not isinstance(torso, FeedForward):
        raise ConfigError(f"approximator '{approximator.type}' is a memory torso, {hint}")
    return torso


def check_action_space(space: gym.Space, algo: str, supported: tuple[type, ...]) -> None:
    """A one-line error when ``algo`` cannot act in ``space``."""
    if not isinstance(space, supported):
        names = ", ".join(s.__name__ for s in supported)
        raise RlkitError(
            f"{algo} cannot handle action space {space} ({type(space).__name__}); "
            f"it supports: {names}"
        )


MASKED_LOGIT = -1e8
"""The logit of an invalid action (as sb3-contrib's MaskablePPO): probability 0 after the
softmax, and finite, so entropies and log-softmaxes stay finite."""


def masked(logits: torch.Tensor, action_masks: torch.Tensor | None) -> torch.Tensor:
    """logits where ``action_masks`` (same shape, bool: valid) holds, MASKED_LOGIT elsewhere."""
    if action_masks is None:
        return logits
    return logits.masked_fill(~action_masks, MASKED_LOGIT)


class CategoricalHead(nn.Module):
    """features -> logits -> Categorical(softmax(logits)); invalid actions (``action_masks``)
    get probability 0."""

    def __init__(self, in_dim: int, n_actions: int) -> None:
        super().__init__()
        self.logits = orthogonal_init(nn.Linear(in_dim, n_actions), gain=0.01)
        # The inputs are logits of our own layer: torch's argument checks would only cost time.
        self.distribution = functools.partial(Categorical, validate_args=False)
        if fast.enabled("categorical"):
            from rlkit.fast.categorical import FastCategorical

            self.distribution = FastCategorical

    def forward(self, features: torch.Tensor,
                action_masks: torch.Tensor | None = None) -> Distribution:
        return self.distribution(logits=masked(self.logits.forward(features), action_masks))

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return dist.logits.argmax(-1)


class GaussianHead(nn.Module):
    """features -> mean; a state-independent log std: N(mean, diag(exp(log_std))^2)."""

    def __init__(self, in_dim: int, action_dim: int, log_std_init: float = 0.0) -> None:
        super().__init__()
        self.mean = orthogonal_init(nn.Linear(in_dim, action_dim), gain=0.01)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))

    def forward(self, features: torch.Tensor,
                action_masks: torch.Tensor | None = None) -> Distribution:
        mean = self.mean.forward(features)
        std = self.log_std.exp().expand_as(mean)
        return Independent(Normal(mean, std, validate_args=False), 1, validate_args=False)

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return dist.mean


class MultiCategoricalHead(nn.Module):
    """features -> one logit vector per component of a MultiDiscrete space -> independent
    categoricals: pi(a|s) = prod_i pi_i(a_i|s), so log pi(a|s) = sum_i log pi_i(a_i|s) and
    H = sum_i H_i.

    The logits of component i (``nvec[i]`` of them) are padded with -inf to the widest
    component's count, a probability of 0, so one ``Categorical`` of shape (..., k, width)
    under ``Independent`` holds them all. ``action_masks`` are flat like the logits: component
    0's valid actions, then component 1's, ... (sb3-contrib's layout)."""

    def __init__(self, in_dim: int, nvec: np.ndarray) -> None:
        super().__init__()
        counts = [int(n) for n in np.asarray(nvec).reshape(-1)]
        self.logits = orthogonal_init(nn.Linear(in_dim, sum(counts)), gain=0.01)
        width = max(counts)
        used = torch.arange(width)[None, :] < torch.tensor(counts)[:, None]
        self.register_buffer("used", used, persistent=False)  # (k, width): a real action

    def forward(self, features: torch.Tensor,
                action_masks: torch.Tensor | None = None) -> Distribution:
        flat = masked(self.logits.forward(features), action_masks)
        shape = (*flat.shape[:-1], *self.used.shape)
        # row-major fill: component 0's logits, then component 1's, ... (the flat layout)
        padded = flat.new_full(shape, float("-inf")).masked_scatter(self.used.expand(shape), flat)
        return Independent(Categorical(logits=padded, validate_args=False), 1,
                           validate_args=False)

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return dist.base_dist.logits.argmax(-1)


class BernoulliHead(nn.Module):
    """features -> one logit per bit of a MultiBinary space -> independent Bernoullis:
    log pi(a|s) = sum_i [a_i log sigma(l_i) + (1 - a_i) log(1 - sigma(l_i))], H = sum_i H_i.

    ``action_masks`` hold two flags per bit, (0 allowed, 1 allowed), side by side as for a
    MultiDiscrete of twos (sb3-contrib's layout): a bit that may not be 1 gets logit
    MASKED_LOGIT, one that may not be 0 gets -MASKED_LOGIT."""

    def __init__(self, in_dim: int, n_bits: int) -> None:
        super().__init__()
        self.logits = orthogonal_init(nn.Linear(in_dim, n_bits), gain=0.01)

    def forward(self, features: torch.Tensor,
                action_masks: torch.Tensor | None = None) -> Distribution:
        logits = self.logits.forward(features)
        if action_masks is not None:
            zero_allowed, one_allowed = action_masks[..., 0::2], action_masks[..., 1::2]
            logits = logits.masked_fill(~one_allowed, MASKED_LOGIT)
            logits = logits.masked_fill(~zero_allowed & one_allowed, -MASKED_LOGIT)
        return Independent(Bernoulli(logits=logits, validate_args=False), 1, validate_args=False)

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return (dist.base_dist.logits > 0).to(dist.base_dist.logits.dtype)


def policy_head(in_dim: int, action_space: gym.Space, log_std_init: float = 0.0) -> nn.Module:
    """The action distribution's head for a Discrete, MultiDiscrete, MultiBinary or Box
    space (a one-dimensional one for the last three)."""
    if isinstance(action_space, gym.spaces.Discrete):
        return CategoricalHead(in_dim, int(action_space.n))
    if len(action_space.shape) != 1:
        raise ConfigError(f"action space {action_space} has {len(action_space.shape)} "
                          f"dimensions; rlkit's policies act in one-dimensional ones")
    if isinstance(action_space, gym.spaces.MultiDiscrete):
        return MultiCategoricalHead(in_dim, action_space.nvec)
    if isinstance(action_space, gym.spaces.MultiBinary):
        return BernoulliHead(in_dim, int(action_space.shape[0]))
    return GaussianHead(in_dim, int(np.prod(action_space.shape)), log_std_init)


class ValueHead(nn.Module):
    """features -> V(s)."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.value = orthogonal_init(nn.Linear(in_dim, 1), gain=1.0)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.value.forward(features).squeeze(-1)


class ActorCritic(nn.Module):
    """pi(a|s) and V(s) on one shared torso or on two separate ones."""

    def __init__(
        self,
        obs_space: gym.Space,
        action_space: gym.Space,
        approximator: ApproximatorConfig,
        share_torso: bool = False,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.actor_torso = build_torso(obs_space, approximator)
        self.critic_torso = (
            self.actor_torso if share_torso else build_torso(obs_space, approximator)
        )
        self.has_memory = not isinstance(self.actor_torso, FeedForward)
        self._n_actor_state = len(self.actor_torso.initial_state(1))
        self.policy = policy_head(self.actor_torso.out_dim, action_space, log_std_init)
        self.value = ValueHead(self.critic_torso.out_dim)
        self.share_torso = share_torso

    @classmethod
    def from_config(cls, obs_space: gym.Space, action_space: gym.Space, config) -> ActorCritic:
        """From a config with ``approximator``, ``share_torso`` and ``log_std_init``."""
        return cls(obs_space, action_space, config.approximator,
                   share_torso=config.share_torso, log_std_init=config.log_std_init)

    def forward(self, obs: torch.Tensor, action_masks: torch.Tensor | None = None
                ) -> tuple[Distribution, torch.Tensor]:
        features = self.actor_torso(obs)
        critic_features = features if self.share_torso else self.critic_torso(obs)
        return self.policy(features, action_masks), self.value(critic_features)

    def actor_parameters(self) -> list[nn.Parameter]:
        """Parameters of pi (its torso and head); with a shared torso, that torso too."""
        return [*self.actor_torso.parameters(), *self.policy.parameters()]

    def critic_parameters(self) -> list[nn.Parameter]:
        """Parameters of V that pi does not use (all of V's unless the torso is shared)."""
        torso = [] if self.share_torso else list(self.critic_torso.parameters())
        return [*torso, *self.value.parameters()]

    def get_value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value(self.critic_torso(obs))

    def auxiliary_loss(self) -> AuxiliaryLoss | None:
        """The torsos' auxiliary loss (autoencoder, vae) of the latest update's forward pass;
        None for torsos without one."""
        return auxiliary_loss([self.actor_torso, self.critic_torso])

    def distribution(self, obs: torch.Tensor,
                     action_masks: torch.Tensor | None = None) -> Distribution:
        """pi(.|s) of a batch of observations, without touching the critic."""
        return self.policy(self.actor_torso(obs), action_masks)

    def sample(self, obs: torch.Tensor, action_masks: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """a ~ pi(.|s); returns (actions, log pi(a|s)) without touching the critic.
        ``action_masks`` (bool, one per logit) give invalid actions probability 0, here and
        in every method below that takes them."""
        dist = self.policy(self.actor_torso(obs), action_masks)
        actions = dist.sample()
        return actions, dist.log_prob(actions)

    def act(self, obs: torch.Tensor, action_masks: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample a ~ pi(.|s); returns (actions, V(s), log pi(a|s))."""
        dist, values = self(obs, action_masks)
        actions = dist.sample()
        return actions, values, dist.log_prob(actions)

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor, action_masks: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log pi(a|s), entropy of pi(.|s), V(s)) for stored actions."""
        dist, values = self(obs, action_masks)
        return dist.log_prob(actions), dist.entropy(), values

    def deterministic_action(self, obs: torch.Tensor,
                             action_masks: torch.Tensor | None = None) -> torch.Tensor:
        return self.policy.mode(self.policy(self.actor_torso(obs), action_masks))

    def evaluate(self, batch: RolloutBatch | SequenceBatch) -> tuple[torch.Tensor, ...]:
        """(log pi(a|s), entropy, V(s)) for every sample of a minibatch, in its order; a
        memory torso replays its envs' sequences from the stored state."""
        if isinstance(batch, SequenceBatch):
            return self.evaluate_sequences(batch)
        return self.evaluate_actions(batch.obs, batch.actions, batch.action_masks)

    # --- with memory: the state of the torso(s) is (*actor state, *critic state) ------------
    def initial_state(self, n_envs: int) -> State:
        critic = () if self.share_torso else self.critic_torso.initial_state(n_envs)
        return (*self.actor_torso.initial_state(n_envs), *critic)

    def _split(self, state: State) -> tuple[State, State]:
        return state[: self._n_actor_state], state[self._n_actor_state :]

    def step(
        self, obs: torch.Tensor, state: State, starts: torch.Tensor, deterministic: bool = False,
        action_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """One action per env from obs (B, ...): (actions, log pi(a|s), state after the step).
        Only pi's state advances; V's advances in :meth:`rollout_values`."""
        actor_state, critic_state = self._split(state)
        features, actor_state = self.actor_torso.unroll(obs[None], actor_state, starts[None])
        dist = self.policy(features[0], action_masks)
        actions = self.policy.mode(dist) if deterministic else dist.sample()
        return actions, dist.log_prob(actions), (*actor_state, *critic_state)

    def rollout_values(
        self, obs: torch.Tensor, state: State, starts: torch.Tensor
    ) -> tuple[torch.Tensor, State]:
        """V of every step of obs (T, B, ...) from ``state``, and the state with V's part
        advanced over the T steps (a shared torso: pi's state, left as it was)."""
        actor_state, critic_state = self._split(state)
        if self.share_torso:
            features, _ = self.actor_torso.unroll(obs, actor_state, starts)
        else:
            features, critic_state = self.critic_torso.unroll(obs, critic_state, starts)
        return self.value(features), (*actor_state, *critic_state)

    def merge_state(self, acting: State, valued: State) -> State:
        """pi's state from ``acting``, V's from ``valued``."""
        return (*self._split(acting)[0], *self._split(valued)[1])

    def evaluate_sequences(self, batch: SequenceBatch) -> tuple[torch.Tensor, ...]:
        """Replay whole-env sequences from the stored state (truncated BPTT over the rollout)
        and return the outputs of the valid steps, flattened in (step, env) order."""
        return self.replay(batch.obs, batch.actions, batch.starts, batch.mask, batch.memory,
                           batch.action_masks)

    def replay(
        self, obs: torch.Tensor, actions: torch.Tensor, starts: torch.Tensor,
        mask: torch.Tensor, state: State, action_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log pi(a|s), entropy, V(s)) of the steps in ``mask`` (T, B), flattened in (step,
        env) order, from unrolling obs (T, B, ...) with episode ``starts`` from ``state``."""
        actor_state, critic_state = self._split(state)
        features, _ = self.actor_torso.unroll(obs, actor_state, starts, with_state=False)
        critic_features = (
            features if self.share_torso
            else self.critic_torso.unroll(obs, critic_state, starts, with_state=False)[0]
        )  # fmt: skip
        dist = self.policy(features[mask], None if action_masks is None else action_masks[mask])
        return dist.log_prob(actions[mask]), dist.entropy(), self.value(critic_features[mask])


class QHead(nn.Module):
    """features -> Q(s, .), one action value per discrete action."""

    def __init__(self, in_dim: int, n_actions: int) -> None:
        super().__init__()
        self.q = orthogonal_init(nn.Linear(in_dim, n_actions), gain=1.0)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.q.forward(features)


class DuelingQHead(nn.Module):
    """features -> Q(s, a) = V(s) + A(s, a) - mean_b A(s, b) (Wang et al., 2016).

    Subtracting the mean advantage makes V and A identifiable without changing argmax_a Q.
    """

    def __init__(self, in_dim: int, n_actions: int) -> None:
        super().__init__()
        self.value = orthogonal_init(nn.Linear(in_dim, 1), gain=1.0)
        self.advantage = orthogonal_init(nn.Linear(in_dim, n_actions), gain=1.0)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        advantages = self.advantage.forward(features)
        return self.value.forward(features) + advantages - advantages.mean(-1, keepdim=True)


class BayesQHead(nn.Module):
    """features -> Q(s, a) = mu_a^T [phi(s), 1], where mu_a is the posterior mean of a Bayesian
    linear regression of action a's TD targets on the features (BDQN, Azizzadenesheli et al.
    2018). The weights are not trained by gradient: the agent refits the posterior and writes
    its mean here (``set_weights``); the torso learns through them.
    """

    def __init__(self, in_dim: int, n_actions: int) -> None:
        super().__init__()
        self.q = nn.Linear(in_dim, n_actions).requires_grad_(False)
        nn.init.zeros_(self.q.weight)  # the prior mean
        nn.init.zeros_(self.q.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.q.forward(features)

    def set_weights(self, weights: torch.Tensor) -> None:
        """Write ``weights`` (n_actions x (in_dim + 1), the bias last) into the head."""
        with torch.no_grad():
            self.q.weight.copy_(weights[:, :-1])
            self.q.bias.copy_(weights[:, -1])


class QNetwork(nn.Module):
    """Q(s, .) for a discrete action space: a torso from the registry plus a Q head: linear,
    dueling, or Bayesian linear (``bayes``)."""

    def __init__(
        self,
        obs_space: gym.Space,
        n_actions: int,
        approximator: ApproximatorConfig,
        dueling: bool = False,
        bayes: bool = False,
    ) -> None:
        super().__init__()
        self.torso = feed_forward_torso(
            obs_space, approximator, "and DQN learns from single transitions; use a feed-forward "
            "approximator (mlp), or ppo or a2c for memory")
        head = BayesQHead if bayes else DuelingQHead if dueling else QHead
        self.head = head(self.torso.out_dim, n_actions)
        self.reset_parameters()
        self.fast_acting = fast.enabled("numpy_acting")
        self.fast_gradient = fast.enabled("td_gradient")

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.torso(obs))

    def reset_parameters(self) -> None:
        """torch's default Linear initialization (weights and biases uniform in +-1/sqrt(fan_in))
        for an MLP torso's layers and a trained head, as SB3's and CleanRL's DQN start from,
        instead of the orthogonal one (gain sqrt 2, zero biases) the MLP torso takes for policy
        gradients. Plain DQN on CartPole-v1 (the entry with 1-step targets, no double Q, PER or
        dueling) reached 500 and lost its greedy policy more often from the orthogonal init:
        seeds 0-9 ended at 500 in 2 runs of 10 with it (mean final eval 217, mean eval over
        60k-100k steps 238), in 8 of 10 with this one (444, 370); SB3's own DQN given the
        orthogonal init ended seeds 0, 1, 3 at 93, 500, 115 instead of 407, 500, 369
        (2026-12-07). It makes collapses rarer, not impossible: ``rlkit compare`` with it still
        gave 127, 92, 406, 500, 108 on seeds 0-4 (SB3 407, 500, 500, 369, 500). Only an MLP
        torso and the trained head on it change: a CNN torso keeps its own init (SB3's side
        runs the same one: ``rlkit.experiments.sb3.TorsoExtractor``), a linear Q function on fixed
        features keeps its head's (with torch's, MountainCar's Fourier entry ended at -153 on
        seed 2, below its test's -150), and so does Thompson DQN's torso under its Bayesian
        head (with torch's, it never reached the far end of rlkit/Chain-v0 on seeds 0, 1
        and 3, where the orthogonal torso reaches it on every seed measured)."""
        if not isinstance(self.torso, MLP) or isinstance(self.head, BayesQHead):
            return
        for layer in [*self.torso.modules(), *self.head.modules()]:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def plain_layers(self) -> list[nn.Module] | None:
        """The network as one row of layers (torso, then head) where it is a plain MLP reading
        the observation rows as they are (no one-hot or packed inputs) under a linear Q head,
        for ``rlkit.fast``'s written-out gradient; None for any other network."""
        if not isinstance(self.torso, MLP) or not self.torso.reads_rows:
            return None
        if not isinstance(self.head, QHead):
            return None
        return [*self.torso.layers, self.head.q]

    def numpy_q_function(self) -> NumpyFunction | None:
        """Q(s, .) as numpy code (``rlkit.fast.numpy_forward``) for an MLP torso reading the
        observation rows as they are under a linear, dueling or Bayesian head (the latter acts
        on its posterior mean); None for any other network or layer."""
        torso, head = self.torso, self.head
        if not isinstance(torso, MLP) or not torso.reads_rows:
            return None
        if isinstance(head, DuelingQHead):
            return numpy_q_function(torso.layers, value=head.value, advantage=head.advantage)
        if isinstance(head, QHead | BayesQHead):
            return numpy_q_function(torso.layers, head.q)
        return None

    def loss_gradient(self, loss_fn: LossFn, kind: str) -> LossGradient:
        """``(s, a, y, w) -> (L, Q(s, a))`` (both detached) that also writes dL/dtheta into the
        parameters' ``.grad``, which must be zero before (``FlatOptimizer.zero_grad``), for

            L = loss_fn(Q(s, a), y, w)

        ``kind`` ("huber" or "mse") names loss_fn's per-row loss. Plain MLP Q networks get the
        gradient written out by ``rlkit.fast`` (autograd's kernels without its tape), any other
        network through autograd.
        """
        layers = self.plain_layers() if self.fast_gradient else None
        explicit = QLossGradient.of(layers, kind, loss_fn) if layers else None
        if explicit is not None:
            return explicit

        def autograd(obs: torch.Tensor, actions: torch.Tensor, targets: torch.Tensor,
                     weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            q = self(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
            loss = loss_fn(q, targets, weights)
            loss.backward()
            return loss.detach(), q.detach()

        return autograd

    def greedy_policy(self) -> Callable[[np.ndarray], np.ndarray]:
        """argmax_a Q(s, a) for a batch of preprocessed observation rows, on the current weights.

        Call it again after the parameters were moved or replaced. Acting one step at a time
        goes through ``rlkit.fast``'s numpy forward pass where it applies (a one-row torch
        forward pass costs about four times as much), else through torch.
        """
        numpy_q = self.numpy_q_function() if self.fast_acting else None
        if numpy_q is not None:
            return lambda obs: numpy_q(obs).argmax(axis=1)
        device = next(self.parameters()).device
        return lambda obs: self(to_tensor(obs, device)).argmax(dim=1).cpu().numpy()
