"""Heads that sit on a torso: action distributions, state values and action values.

Policy heads return ``torch.distributions`` objects; PPO, A2C and REINFORCE all use
:class:`ActorCritic` and differ only in their losses.
"""

from __future__ import annotations

import gymnasium as gym
import numba
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from rlkit import fast
from rlkit.approximators import NumpyFunction, build_torso, numpy_linear_stack, orthogonal_init
from rlkit.config import ApproximatorConfig
from rlkit.errors import RlkitError


def check_action_space(space: gym.Space, algo: str, supported: tuple[type, ...]) -> None:
    """A one-line error when ``algo`` cannot act in ``space``."""
    if not isinstance(space, supported):
        names = ", ".join(s.__name__ for s in supported)
        raise RlkitError(
            f"{algo} cannot handle action space {space} ({type(space).__name__}); "
            f"it supports: {names}"
        )


class FastCategorical(Categorical):
    """``torch.distributions.Categorical`` with leaner log_prob and entropy (same values).

    ``self.logits`` is already normalized (log softmax), so log pi(a) is a gather and
    H = -sum_a pi(a) log pi(a) needs no clamping or broadcasting; this halves the autograd
    graph of PPO/A2C's policy terms for small discrete action spaces.
    """

    def __init__(self, logits: torch.Tensor) -> None:
        # Categorical.__init__ normalizes with logsumexp and a subtraction; log_softmax is one
        # kernel. The attributes set are the ones Categorical's methods read.
        self.logits = self._param = logits.log_softmax(-1)
        self._num_events = logits.shape[-1]
        Distribution.__init__(self, logits.shape[:-1], validate_args=False)

    def sample(self, sample_shape: torch.Size | tuple[int, ...] = ()) -> torch.Tensor:
        """Gumbel-max: a = argmax_a (log pi(a) - log E_a), E_a ~ Exp(1) i.i.d.

        -log E is Gumbel(0, 1) noise, so a ~ pi exactly; three small kernels instead of
        ``multinomial`` and its reshaping, which cost more than the policy's forward pass.
        """
        if sample_shape:
            return super().sample(torch.Size(sample_shape))
        with torch.no_grad():
            # clamp: an exact 0 from exponential_ would give +inf noise (nan on a -inf logit)
            noise = torch.empty_like(self.logits).exponential_().clamp_(min=1e-30).log_()
            return (self.logits - noise).argmax(-1)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return self.logits.gather(-1, value.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        return -(self.probs * self.logits).sum(-1)


class CategoricalHead(nn.Module):
    """features -> logits -> Categorical(softmax(logits))."""

    def __init__(self, in_dim: int, n_actions: int) -> None:
        super().__init__()
        self.logits = orthogonal_init(nn.Linear(in_dim, n_actions), gain=0.01)
        self.distribution = FastCategorical if fast.enabled("categorical") else Categorical

    def forward(self, features: torch.Tensor) -> Distribution:
        return self.distribution(logits=self.logits.forward(features))

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return dist.logits.argmax(-1)


class GaussianHead(nn.Module):
    """features -> mean; a state-independent log std: N(mean, diag(exp(log_std))^2)."""

    def __init__(self, in_dim: int, action_dim: int, log_std_init: float = 0.0) -> None:
        super().__init__()
        self.mean = orthogonal_init(nn.Linear(in_dim, action_dim), gain=0.01)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))

    def forward(self, features: torch.Tensor) -> Distribution:
        mean = self.mean.forward(features)
        std = self.log_std.exp().expand_as(mean)
        return Independent(Normal(mean, std, validate_args=False), 1, validate_args=False)

    @staticmethod
    def mode(dist: Distribution) -> torch.Tensor:
        return dist.mean


def policy_head(in_dim: int, action_space: gym.Space, log_std_init: float = 0.0) -> nn.Module:
    if isinstance(action_space, gym.spaces.Discrete):
        return CategoricalHead(in_dim, int(action_space.n))
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
        self.policy = policy_head(self.actor_torso.out_dim, action_space, log_std_init)
        self.value = ValueHead(self.critic_torso.out_dim)
        self.share_torso = share_torso

    @classmethod
    def from_config(cls, obs_space: gym.Space, action_space: gym.Space, config) -> ActorCritic:
        """From a config with ``approximator``, ``share_torso`` and ``log_std_init``."""
        return cls(obs_space, action_space, config.approximator,
                   share_torso=config.share_torso, log_std_init=config.log_std_init)

    def forward(self, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        features = self.actor_torso(obs)
        critic_features = features if self.share_torso else self.critic_torso(obs)
        return self.policy(features), self.value(critic_features)

    def actor_parameters(self) -> list[nn.Parameter]:
        """Parameters of pi (its torso and head); with a shared torso, that torso too."""
        return [*self.actor_torso.parameters(), *self.policy.parameters()]

    def critic_parameters(self) -> list[nn.Parameter]:
        """Parameters of V that pi does not use (all of V's unless the torso is shared)."""
        torso = [] if self.share_torso else list(self.critic_torso.parameters())
        return [*torso, *self.value.parameters()]

    def get_value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value(self.critic_torso(obs))

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """a ~ pi(.|s); returns (actions, log pi(a|s)) without touching the critic."""
        dist = self.policy(self.actor_torso(obs))
        actions = dist.sample()
        return actions, dist.log_prob(actions)

    def act(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample a ~ pi(.|s); returns (actions, V(s), log pi(a|s))."""
        dist, values = self(obs)
        actions = dist.sample()
        return actions, values, dist.log_prob(actions)

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log pi(a|s), entropy of pi(.|s), V(s)) for stored actions."""
        dist, values = self(obs)
        return dist.log_prob(actions), dist.entropy(), values

    def deterministic_action(self, obs: torch.Tensor) -> torch.Tensor:
        return self.policy.mode(self.policy(self.actor_torso(obs)))


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


class QNetwork(nn.Module):
    """Q(s, .) for a discrete action space: a torso from the registry plus a (dueling) Q head."""

    def __init__(
        self,
        obs_space: gym.Space,
        n_actions: int,
        approximator: ApproximatorConfig,
        dueling: bool = False,
    ) -> None:
        super().__init__()
        self.torso = build_torso(obs_space, approximator)
        head = DuelingQHead if dueling else QHead
        self.head = head(self.torso.out_dim, n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.torso(obs))

    def numpy_forward(self) -> NumpyFunction | None:
        """Q(s, .) as a numpy function of raw observation rows on the current weights, for
        acting one step at a time (see ``numpy_linear_stack``); None if the torso has none."""
        torso = getattr(self.torso, "numpy_forward", lambda: None)()
        if torso is None:
            return None
        if isinstance(self.head, DuelingQHead):
            value = numpy_linear_stack([self.head.value])
            advantage = numpy_linear_stack([self.head.advantage])
            if value is None or advantage is None:
                return None

            def dueling(obs: np.ndarray) -> np.ndarray:
                features = torso(obs)
                advantages = advantage(features)
                return value(features) + advantages - advantages.mean(-1, keepdims=True)

            return dueling
        head = numpy_linear_stack([self.head.q])
        if head is None:
            return None
        return lambda obs: head(torso(obs))


@numba.njit(cache=True)
def argmax_if_clear(q: np.ndarray, rtol: float = 3e-4) -> tuple[np.ndarray, bool]:
    """argmax_a Q(s, a) per row, and whether every row's best value beats its second best by
    more than rtol * (1 + |best|).

    For the numpy Q function (``QNetwork.numpy_forward``): numpy's BLAS and torch's sum in
    different orders, so the two forward passes differ by float32 rounding (up to 9e-6 of
    1 + |Q| in a 100k-step CartPole run).
    Where every winner is clear by far more than that, both pick the same actions; otherwise
    the caller asks torch. So acting through numpy changes no action and no run.
    """
    n_rows, n_actions = q.shape
    actions = np.zeros(n_rows, dtype=np.int64)
    for i in range(n_rows):
        best = 0
        for a in range(1, n_actions):
            if q[i, a] > q[i, best]:
                best = a
        second = -np.inf
        for a in range(n_actions):
            if a != best and q[i, a] > second:
                second = q[i, a]
        if not q[i, best] - second > rtol * (1.0 + abs(q[i, best])):  # NaN: not clear either
            return actions, False
        actions[i] = best
    return actions, True
