"""One switch turns every fast path off: the config key fast_paths and RLKIT_FAST_PATHS."""

import numpy as np
import pytest
import torch
from torch.distributions import Categorical

import rlkit
from rlkit import fast
from rlkit.errors import ConfigError
from rlkit.fast.categorical import FastCategorical
from rlkit.fast.td_gradient import QLossGradient

pytestmark = pytest.mark.numerics  # CI runs these under every ATEN_CPU_CAPABILITY

ALL = frozenset(fast.PATHS)


@pytest.mark.parametrize(
    ("value", "allowed"),
    [(None, ALL), ("", ALL), ("1", ALL), ("all", ALL), ("0", set()), ("off", set()),
     ("td_gradient,categorical", {"td_gradient", "categorical"}),
     ("-categorical", ALL - {"categorical"}),
     (" -numpy_acting , -td_gradient ", ALL - {"numpy_acting", "td_gradient"})],
)
def test_environment_variable(monkeypatch, value, allowed):
    if value is None:
        monkeypatch.delenv(fast.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(fast.ENV_VAR, value)
    assert fast.env_allowed() == allowed
    assert {path for path in fast.PATHS if fast.enabled(path)} == allowed
    with fast.switch(False):
        assert not any(fast.enabled(path) for path in fast.PATHS)


@pytest.mark.parametrize(("value", "message"), [("adam", "unknown fast paths adam"),
                                                ("td_gradient,-categorical", "not both")])
def test_bad_environment_variable_is_a_config_error(value, message):
    with pytest.raises(ConfigError, match=message):
        fast.env_allowed(value)


def _fast_parts(agent) -> set[str]:
    """Which fast paths the agent's networks and optimizers were built with."""
    parts = set()
    if hasattr(agent, "q_net"):
        if agent.q_net.fast_acting:
            parts.add("numpy_acting")
        if isinstance(agent.loss_gradient, QLossGradient):
            parts.add("td_gradient")
    else:
        dist = agent.policy.policy(torch.zeros(1, agent.policy.actor_torso.out_dim))
        assert isinstance(dist, Categorical)
        if isinstance(dist, FastCategorical):
            parts.add("categorical")
    return parts


@pytest.mark.parametrize(("algo", "paths"), [
    ("dqn", {"numpy_acting", "td_gradient"}), ("ppo", {"categorical"}),
    ("a2c", {"categorical"}), ("reinforce", {"categorical"})])
def test_config_key_and_environment_variable_turn_every_path_off(monkeypatch, algo, paths):
    monkeypatch.delenv(fast.ENV_VAR, raising=False)
    extra = {"dueling": False} if algo == "dqn" else {}  # a plain head: every DQN path applies
    assert _fast_parts(rlkit.make(algo, "CartPole-v1", **extra)) == paths
    assert _fast_parts(rlkit.make(algo, "CartPole-v1", fast_paths=False, **extra)) == set()
    monkeypatch.setenv(fast.ENV_VAR, "0")
    assert _fast_parts(rlkit.make(algo, "CartPole-v1", **extra)) == set()
    monkeypatch.setenv(fast.ENV_VAR, "-categorical")
    assert _fast_parts(rlkit.make(algo, "CartPole-v1", **extra)) == paths - {"categorical"}


def test_fast_paths_survive_a_checkpoint_as_configured(tmp_path):
    agent = rlkit.make("dqn", "CartPole-v1", fast_paths=False, dueling=False)
    agent.save(tmp_path / "dqn.pt")
    assert _fast_parts(rlkit.load(tmp_path / "dqn.pt")) == set()


def _parameters(agent) -> np.ndarray:
    return agent.optimizer.flat.detach().numpy().copy()


@pytest.mark.parametrize(("algo", "path", "overrides", "steps"), [
    ("ppo", "categorical", {}, 512),  # two rollouts, 20 epochs each: 40 Adam steps
    ("a2c", "categorical", {}, 512),
    ("reinforce", "categorical", {}, 1024),
    ("dqn", "td_gradient", {"dueling": False}, 1100),  # one round of 128 gradient steps
    ("dqn", "numpy_acting", {"dueling": True}, 1100),
])
def test_each_path_computes_what_torch_computes(monkeypatch, algo, path, overrides, steps):
    """A short run with the path and one without it end at the same parameters (float32
    tolerance): the paths change how, not what, is computed. Short, because float32
    differences grow once a near-tie between two actions' values goes the other way and the
    runs see different data. DQN's tuned config trains from 1000 env steps on."""
    runs = []
    for value in ("1", f"-{path}"):
        monkeypatch.setenv(fast.ENV_VAR, value)
        agent = rlkit.make(algo, "CartPole-v1", seed=0, eval_freq=0, eval_episodes=1,
                           **overrides)
        agent.learn(steps)
        assert agent.n_updates > 0
        runs.append(_parameters(agent))
    start = _parameters(rlkit.make(algo, "CartPole-v1", seed=0, **overrides))
    assert np.abs(runs[0] - start).max() > 1e-3  # the runs did move the parameters
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-4, atol=1e-5)


# Training to the end with and without the fast paths: every CartPole learning test
# (tests/agents/test_*.py) runs seeds 0-2 both ways, each against its bar.
