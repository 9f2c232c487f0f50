"""The rlkit -> SB3 mapping: every mapped key reads back equal on the SB3 model built from it,
no config key is forgotten, and what SB3 has no counterpart for is reported."""

import math

import pytest
import torch
from stable_baselines3.common.torch_layers import FlattenExtractor
from torch import nn

import rlkit
from rlkit.errors import RlkitError
from rlkit.experiments.sb3 import (
    TABLES,
    TorsoExtractor,
    applicable_rows,
    mapped_keys,
    sb3_kwargs,
    sb3_model,
    unlisted_keys,
)
from rlkit.training.registry import agent_class


def build(algo: str, env_id: str, with_agent: bool = False, **overrides):
    from functools import partial

    from stable_baselines3.common.env_util import make_vec_env

    from rlkit.training.environment import make_env

    agent = rlkit.make(algo, env_id, seed=0, **overrides)
    kwargs, unmapped = sb3_kwargs(algo, agent.config)
    cls, policy = sb3_model(algo, agent.config, agent.observation_space)
    # a run key: the same n_envs; rlkit's make_env: the same (preprocessed) env
    env = make_vec_env(partial(make_env, env_id), n_envs=agent.config.n_envs, seed=0)
    model = cls(policy, env, seed=0, device="cpu", **kwargs)
    return (agent if with_agent else agent.config), model, unmapped


def _extractor(model):
    policy = model.policy
    return policy.q_net.features_extractor if hasattr(policy, "q_net") \
        else policy.pi_features_extractor


def _shapes(module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in module.parameters()]


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
        "policy_kwargs.features_extractor_class": lambda: type(_extractor(model)),
        "policy_kwargs.features_extractor_kwargs": lambda: _shapes(_extractor(model)),
        "policy_kwargs.normalize_images": lambda: policy.normalize_images,
        "policy_kwargs.share_features_extractor": lambda: policy.share_features_extractor,
        "policy_kwargs.lstm_hidden_size": lambda: policy.lstm_actor.hidden_size,
        "policy_kwargs.n_lstm_layers": lambda: policy.lstm_actor.num_layers,
        "policy_kwargs.shared_lstm": lambda: policy.shared_lstm,
        "policy_kwargs.enable_critic_lstm": lambda: policy.lstm_critic is not None,
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
    # CnnPolicy with rlkit's CNN (MinAtar's small stack, PixelGrid's entry)
    ("ppo", "MinAtar/Breakout-v1", {}),
    ("dqn", "rlkit/PixelGrid-v0", {}),
    ("a2c", "rlkit/PixelGrid-v0", {"share_torso": True}),
    # sb3-contrib's RecurrentPPO: with and without an encoder, one LSTM or two
    ("ppo", "rlkit/CartPoleNoVel-v0", {}),
    ("ppo", "rlkit/CartPoleNoVel-v0", {"share_torso": True, "approximator": {
        "type": "lstm", "hidden_size": 32, "num_layers": 2, "encoder": None}}),
]


def feed_forward_part(agent):
    """rlkit's own feed-forward torso: the CNN, or a memory torso's encoder."""
    torso = agent.q_net.torso if hasattr(agent, "q_net") else agent.policy.actor_torso
    return torso.encoder if hasattr(torso, "encoder") else torso


def expected_value(agent, key: str, progress: float):
    """What SB3 must use for keyword ``key``, worked out from rlkit's config here, apart from
    the mapping's own conversions (so that a wrong conversion fails the test)."""
    cfg = agent.config
    memory = cfg.approximator.type == "lstm"
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
        # without an encoder rlkit's LSTM reads the observation itself: SB3's flattening
        "policy_kwargs.features_extractor_class": TorsoExtractor
        if feed_forward_part(agent) is not None else FlattenExtractor,
        "policy_kwargs.features_extractor_kwargs": lambda: _shapes(feed_forward_part(agent))
        if feed_forward_part(agent) is not None else [],
        "policy_kwargs.normalize_images": False,  # rlkit's CNN scales uint8 frames itself
        "policy_kwargs.share_features_extractor": getattr(cfg, "share_torso", None),
        "policy_kwargs.lstm_hidden_size": cfg.approximator.hidden_size,
        "policy_kwargs.n_lstm_layers": cfg.approximator.num_layers,
        "policy_kwargs.shared_lstm": getattr(cfg, "share_torso", None),
        "policy_kwargs.enable_critic_lstm": not getattr(cfg, "share_torso", True),
    }
    if key == "policy_kwargs.net_arch" and (cfg.approximator.type == "cnn" or memory):
        return []  # the heads (or SB3's LSTM) sit right on the torso's features
    value = values[key] if key in values else getattr(cfg, key)
    return value() if callable(value) and key.endswith("_kwargs") else value


@pytest.mark.parametrize("algo, env_id, overrides", CASES)
def test_every_mapped_key_reads_back_equal_on_the_sb3_model(algo, env_id, overrides):
    agent, model, _ = build(algo, env_id, with_agent=True, **overrides)
    cfg = agent.config
    is_box = env_id == "Pendulum-v1"
    for row in applicable_rows(algo, cfg):
        if row.sb3 == "policy_kwargs.log_std_init" and not is_box:
            continue  # a categorical policy has no std
        if row.sb3 == "policy_kwargs.optimizer_kwargs.alpha" and cfg.optimizer != "rmsprop":
            continue
        for progress in (1.0, 0.5):
            expected = expected_value(agent, row.sb3, progress)
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
    ("ppo", {"approximator": {"type": "gru"}}, {"approximator.type"}),  # SB3: an LSTM
    ("ppo", {"approximator": {"type": "lstm"}}, set()),
    ("a2c", {"approximator": {"norm": "layer"}}, {"approximator.norm"}),
])
def test_keys_without_a_counterpart_are_reported_with_a_reason(algo, overrides, keys):
    env_id = "rlkit/CartPoleNoVel-v0" if "approximator" in overrides and \
        overrides["approximator"].get("type") in ("lstm", "gru") else "CartPole-v1"
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


def test_a_torso_sb3_has_no_policy_for_maps_no_mlp_sizes_and_is_reported():
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, approximator={"type": "linear"})
    kwargs, unmapped = sb3_kwargs("ppo", agent.config)
    assert "net_arch" not in kwargs.get("policy_kwargs", {})
    assert "approximator.type" in unmapped
    assert sb3_model("ppo", agent.config)[1] == "MlpPolicy"


@pytest.mark.parametrize("algo, env_id, overrides, policy", [
    ("ppo", "CartPole-v1", {}, "MlpPolicy"),
    ("ppo", "rlkit/PixelGrid-v0", {}, "CnnPolicy"),
    ("dqn", "MinAtar/Breakout-v1", {"approximator": {"type": "cnn"}}, "CnnPolicy"),
    ("dqn", "MinAtar/Breakout-v1", {}, "CnnPolicy"),  # frames get the CNN by default
    ("dqn", "MinAtar/Breakout-v1", {"approximator": {"type": "mlp"}}, "MlpPolicy"),
    ("ppo", "rlkit/CartPoleNoVel-v0", {}, "MlpLstmPolicy"),
    ("ppo", "rlkit/CartPoleNoVel-v0", {"approximator": {"type": "gru"}}, "MlpLstmPolicy"),
    ("ppo", "rlkit/GoalGrid-v0", {}, "MultiInputPolicy"),
    ("dqn", "rlkit/GoalGrid-v0", {}, "MultiInputPolicy"),
    ("ppo", "rlkit/GoalGrid-v0", {"approximator": {"type": "lstm"}}, "MultiInputLstmPolicy"),
])
def test_the_torso_picks_sb3s_policy(algo, env_id, overrides, policy):
    agent = rlkit.make(algo, env_id, seed=0, **overrides)
    cls, name = sb3_model(algo, agent.config, agent.observation_space)
    assert name == policy
    assert (cls.__name__ == "RecurrentPPO") == ("Lstm" in policy)
    unmapped = sb3_kwargs(algo, agent.config)[1]
    assert ("approximator.type" in unmapped) == (agent.config.approximator.type == "gru")


def test_a_dict_observation_builds_sb3s_multi_input_policy_with_the_same_layers():
    agent, model, _ = build("ppo", "rlkit/GoalGrid-v0", with_agent=True)
    assert type(model.policy).__name__ == "MultiInputActorCriticPolicy"
    assert model.policy.features_extractor.features_dim == agent.policy.actor_torso.in_dim == 4


@pytest.mark.parametrize("env_id, overrides, message", [
    ("Blackjack-v1", {}, "SB3 takes no Tuple observations"),
    ("rlkit/GoalImage-v0", {}, r"image entry 'image' \(5, 5, 1\) through its NatureCNN"),
    ("rlkit/GoalGrid-v0", {"approximator": {"type": "cnn"}}, "compare with approximator.type mlp"),
])
def test_observations_sb3_cannot_take_are_one_line_errors(env_id, overrides, message):
    agent = rlkit.make("ppo", env_id, seed=0, **overrides)
    with pytest.raises(RlkitError, match=message):
        sb3_model("ppo", agent.config, agent.observation_space)


def test_a_recurrent_a2c_has_no_counterpart_on_either_sb3_side():
    agent = rlkit.make("a2c", "rlkit/CartPoleNoVel-v0", seed=0,
                       approximator={"type": "lstm", "hidden_size": 8})
    with pytest.raises(RlkitError, match="RecurrentPPO only"):
        sb3_model("a2c", agent.config)
