"""The rlkit -> SB3 mapping: every mapped key reads back equal on the SB3 model built from it,
no config key is forgotten, and what SB3 has no counterpart for is reported."""

import math

import pytest
import torch
from torch import nn

import rlkit
from rlkit.registry import agent_class
from rlkit.sb3 import TABLES, mapped_keys, sb3_kwargs, unlisted_keys


def build(algo: str, env_id: str, **overrides):
    import stable_baselines3
    from stable_baselines3.common.env_util import make_vec_env

    agent = rlkit.make(algo, env_id, seed=0, **overrides)
    kwargs, unmapped = sb3_kwargs(algo, agent.config)
    cls = getattr(stable_baselines3, algo.upper())
    env = make_vec_env(env_id, n_envs=agent.config.n_envs, seed=0)  # a run key: same n_envs
    model = cls("MlpPolicy", env, seed=0, device="cpu", **kwargs)
    return agent.config, model, unmapped


def read_back(model, key: str, progress: float):
    """The value SB3's model uses for a mapped keyword, at ``progress_remaining``."""
    policy = model.policy
    readers = {
        "learning_rate": lambda: model.lr_schedule(progress),
        "clip_range": lambda: model.clip_range(progress),
        "clip_range_vf": lambda: None if model.clip_range_vf is None
        else model.clip_range_vf(progress),
        "train_freq": lambda: model.train_freq.frequency,
        # SB3 counts target updates in vector steps: it divides the interval by n_envs
        "target_update_interval": lambda: model.target_update_interval * model.n_envs,
        "policy_kwargs.optimizer_kwargs.eps": lambda: policy.optimizer.defaults["eps"],
        "policy_kwargs.optimizer_kwargs.alpha": lambda: policy.optimizer.defaults["alpha"],
        "policy_kwargs.optimizer_class": lambda: type(policy.optimizer),
        "policy_kwargs.log_std_init": lambda: policy.log_std.detach().unique().item(),
        "policy_kwargs.net_arch": lambda: policy.net_arch,
        "policy_kwargs.activation_fn": lambda: policy.activation_fn,
        "n_steps": lambda: model.n_steps,
    }
    return readers[key]() if key in readers else getattr(model, key)


CASES = [
    ("ppo", "CartPole-v1", {}),
    ("ppo", "CartPole-v1", {"anneal_lr": False, "anneal_clip_range": False, "n_epochs": 3}),
    ("ppo", "Pendulum-v1", {"log_std_init": -0.5, "clip_range_vf": 0.3, "target_kl": 0.02,
                            "anneal_clip_range": True}),
    ("a2c", "CartPole-v1", {}),
    ("a2c", "Pendulum-v1", {"optimizer": "adam", "log_std_init": -1.0}),
    ("dqn", "CartPole-v1", {}),
    ("dqn", "MountainCar-v0", {"max_grad_norm": None, "n_step": 1}),
]


def expected_value(cfg, key: str, progress: float):
    """What SB3 must use for keyword ``key``, worked out from rlkit's config here, apart from
    the mapping's own conversions (so that a wrong conversion fails the test)."""
    decay = progress if getattr(cfg, "anneal_lr", False) else 1.0
    sizes = list(cfg.approximator.hidden_sizes)
    values = {
        "learning_rate": cfg.learning_rate * decay,
        "clip_range": getattr(cfg, "clip_range", 0.0)
        * (progress if getattr(cfg, "anneal_clip_range", False) else 1.0),
        "policy_kwargs.net_arch": sizes if cfg.__class__.__name__ == "DQNConfig"
        else {"pi": sizes, "vf": sizes},
        "policy_kwargs.activation_fn": {"tanh": nn.Tanh, "relu": nn.ReLU}[
            cfg.approximator.activation],
        "policy_kwargs.optimizer_kwargs.eps": getattr(cfg, "adam_eps", None)
        or getattr(cfg, "optimizer_eps", None),
        "policy_kwargs.optimizer_kwargs.alpha": getattr(cfg, "rmsprop_alpha", None),
        "policy_kwargs.optimizer_class": torch.optim.Adam
        if getattr(cfg, "optimizer", "adam") == "adam" else torch.optim.RMSprop,
        "policy_kwargs.log_std_init": getattr(cfg, "log_std_init", None),
        "max_grad_norm": math.inf if cfg.max_grad_norm is None else cfg.max_grad_norm,
        "n_steps": cfg.n_step if hasattr(cfg, "n_step") else cfg.n_steps,
    }
    return values[key] if key in values else getattr(cfg, key)


@pytest.mark.parametrize("algo, env_id, overrides", CASES)
def test_every_mapped_key_reads_back_equal_on_the_sb3_model(algo, env_id, overrides):
    cfg, model, _ = build(algo, env_id, **overrides)
    is_box = env_id == "Pendulum-v1"
    for row in TABLES[algo]:
        if row.sb3 == "policy_kwargs.log_std_init" and not is_box:
            continue  # a categorical policy has no std
        if row.sb3 == "policy_kwargs.optimizer_kwargs.alpha" and cfg.optimizer != "rmsprop":
            continue
        for progress in (1.0, 0.5):
            expected = expected_value(cfg, row.sb3, progress)
            got = read_back(model, row.sb3, progress)
            if isinstance(expected, float):
                assert got == pytest.approx(expected), (row, got, expected)
            else:
                assert got == expected, (row, got, expected)


def test_schedules_decay_like_rlkits_anneal():
    cfg, model, _ = build("ppo", "CartPole-v1", anneal_lr=True, anneal_clip_range=True)
    assert model.lr_schedule(0.25) == pytest.approx(0.25 * cfg.learning_rate)
    assert model.clip_range(0.25) == pytest.approx(0.25 * cfg.clip_range)


def test_a2c_rmsprop_keeps_rlkits_alpha_and_eps():
    """SB3's use_rms_prop would replace optimizer_kwargs with alpha 0.99: the mapping gives the
    class and every argument itself."""
    _, model, _ = build("a2c", "CartPole-v1", rmsprop_alpha=0.9, optimizer_eps=1e-3)
    assert isinstance(model.policy.optimizer, torch.optim.RMSprop)
    assert model.policy.optimizer.defaults["alpha"] == 0.9
    assert model.policy.optimizer.defaults["eps"] == 1e-3


@pytest.mark.parametrize("algo", sorted(TABLES))
def test_no_config_key_is_forgotten(algo):
    assert unlisted_keys(algo, agent_class(algo).Config) == set()
    assert all("." not in key or key.startswith("approximator.") for key in mapped_keys(algo))


@pytest.mark.parametrize("algo, overrides, keys", [
    ("dqn", {}, {"double_q", "prioritized", "dueling"}),  # the CartPole entry; SB3: plain DQN
    ("dqn", {"double_q": False, "prioritized": False, "dueling": False}, set()),
    ("ppo", {"share_torso": True, "normalize_obs": True}, {"share_torso"}),
    ("ppo", {"approximator": {"type": "lstm"}}, {"approximator.type"}),
    ("a2c", {"approximator": {"norm": "layer"}}, {"approximator.norm"}),
])
def test_keys_without_a_counterpart_are_reported_with_a_reason(algo, overrides, keys):
    env_id = "rlkit/CartPoleNoVel-v0" if "approximator" in overrides and \
        overrides["approximator"].get("type") == "lstm" else "CartPole-v1"
    agent = rlkit.make(algo, env_id, seed=0, **overrides)
    _, unmapped = sb3_kwargs(algo, agent.config)
    assert set(unmapped) >= keys and (keys or not {"double_q", "prioritized"} & set(unmapped))
    assert all(isinstance(reason, str) and reason for reason in unmapped.values())


def test_activation_maps_to_the_torch_class():
    cfg, model, _ = build("ppo", "CartPole-v1", approximator={"activation": "relu"})
    assert model.policy.activation_fn is nn.ReLU


def test_an_algorithm_sb3_lacks_is_a_key_error():
    agent = rlkit.make("reinforce", "CartPole-v1", seed=0)
    with pytest.raises(KeyError):
        sb3_kwargs("reinforce", agent.config)


def test_a_torso_other_than_an_mlp_maps_no_mlp_sizes():
    agent = rlkit.make("ppo", "rlkit/PixelGrid-v0", seed=0)
    kwargs, unmapped = sb3_kwargs("ppo", agent.config)
    assert "net_arch" not in kwargs.get("policy_kwargs", {})
    assert "approximator.type" in unmapped
