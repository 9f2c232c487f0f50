"""Config resolution: packaged defaults, per-env tuning, files and typed overrides."""

import pytest

import rlkit
from rlkit.agents.ppo import PPOConfig
from rlkit.config import from_dict, parse_set, resolve_config
from rlkit.errors import ConfigError


def test_per_env_values_override_defaults():
    cartpole = resolve_config(PPOConfig, "ppo", "CartPole-v1")
    assert (cartpole.n_envs, cartpole.n_steps, cartpole.gamma) == (8, 32, 0.98)
    other = resolve_config(PPOConfig, "ppo", "MountainCarContinuous-v0")
    assert (other.n_envs, other.n_steps) == (1, 2048)


@pytest.mark.parametrize("torso, expected", [
    ("mlp", (1, 2048, 64, 3e-4, False, False, None, 0.0, True)),  # PPO's defaults
    # memory_defaults
    *[(torso, (8, 64, 256, 1e-3, True, True, 0.02, 0.01, False))
      for torso in ("lstm", "gru", "rnn", "attention")],
])
def test_a_memory_torso_without_an_entry_gets_the_memory_defaults(torso, expected):
    """No entry for the env: a memory torso takes configs/ppo.yaml's memory_defaults (short
    whole sequences from 8 envs, several gradient steps a rollout, lr 1e-3 and the clip range
    decayed, a target KL, an entropy bonus, raw advantages), a feed-forward one the defaults."""
    cfg = resolve_config(PPOConfig, "ppo", "rlkit/TMaze-v0",
                         overrides={"approximator": {"type": torso}})
    assert (cfg.n_envs, cfg.n_steps, cfg.batch_size, cfg.learning_rate, cfg.anneal_lr,
            cfg.anneal_clip_range, cfg.target_kl, cfg.ent_coef, cfg.normalize_advantage
            ) == expected


def test_an_entry_a_file_and_set_win_over_the_memory_defaults(tmp_path):
    """memory_defaults sit just above defaults: the env's entry (CartPoleNoVel's 32-step
    rollouts), a --config file's keys and --set all go over them; what they leave alone the
    memory defaults still set."""
    entry = resolve_config(PPOConfig, "ppo", "rlkit/CartPoleNoVel-v0")
    assert (entry.n_steps, entry.batch_size) == (32, 256)
    lstm = {"approximator": {"type": "lstm"}}
    assert resolve_config(PPOConfig, "ppo", "rlkit/TMaze-v0",
                          overrides={**lstm, "n_steps": 256}).n_steps == 256
    path = tmp_path / "mine.yaml"
    path.write_text("defaults: {batch_size: 32}\nmemory_defaults: {n_epochs: 3}\n")
    cfg = resolve_config(PPOConfig, "ppo", "rlkit/TMaze-v0", config_file=path, overrides=lstm)
    assert (cfg.n_steps, cfg.batch_size, cfg.n_epochs) == (64, 32, 3)
    mlp = resolve_config(PPOConfig, "ppo", "rlkit/TMaze-v0", config_file=path)
    assert (mlp.n_steps, mlp.batch_size, mlp.n_epochs) == (2048, 32, 10)


def test_set_values_are_parsed_and_typed():
    overrides = parse_set(["learning_rate=1e-3", "approximator.hidden_sizes=[32, 16]",
                           "clip_range_vf=null", "anneal_lr=true", "total_timesteps=2e4"])
    cfg = resolve_config(PPOConfig, "ppo", "CartPole-v1", overrides=overrides)
    assert cfg.learning_rate == 1e-3 and isinstance(cfg.learning_rate, float)
    assert cfg.approximator.hidden_sizes == [32, 16]
    assert cfg.clip_range_vf is None and cfg.anneal_lr is True
    assert cfg.total_timesteps == 20_000 and isinstance(cfg.total_timesteps, int)


@pytest.mark.parametrize(
    "items, message",
    [
        (["nope=1"], "unknown config key 'nope'; valid keys: adam_eps"),
        (["approximator.width=3"], "unknown config key 'approximator.width'"),
        (["n_steps=abc"], "config key 'n_steps' expects int, got 'abc'"),
        (["n_steps=1.5"], "expects int"),
        (["anneal_lr=3"], "expects bool"),
        (["approximator.activation=swish"], "must be one of tanh"),
        (["gamma=1.5"], "must lie in [0, 1]"),
        (["n_steps=0"], "'n_steps' must be >= 1"),
        (["justakey"], "--set expects key=value"),
    ],
)
def test_bad_overrides_name_the_problem(items, message):
    with pytest.raises(ConfigError, match=None) as info:
        resolve_config(PPOConfig, "ppo", "CartPole-v1", overrides=parse_set(items))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_config_file_flat_or_sectioned(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text("n_epochs: 3\napproximator:\n  hidden_sizes: [8]\n")
    cfg = resolve_config(PPOConfig, "ppo", "CartPole-v1", config_file=flat)
    assert cfg.n_epochs == 3 and cfg.approximator.hidden_sizes == [8] and cfg.n_envs == 8
    sectioned = tmp_path / "sec.yaml"
    sectioned.write_text("defaults: {n_epochs: 2}\nenvs:\n  CartPole-v1: {n_epochs: 5}\n")
    assert resolve_config(PPOConfig, "ppo", "CartPole-v1", config_file=sectioned).n_epochs == 5
    assert resolve_config(PPOConfig, "ppo", "Acrobot-v1", config_file=sectioned).n_epochs == 2


def test_pattern_entries_serve_a_family_and_an_envs_own_entry_wins(tmp_path):
    sectioned = tmp_path / "sec.yaml"
    sectioned.write_text("defaults: {n_epochs: 2}\nenvs:\n  ALE/*: {n_epochs: 4, n_steps: 7}\n"
                         "  ALE/Pong-v5: {n_epochs: 5}\n")
    pong = resolve_config(PPOConfig, "ppo", "ALE/Pong-v5", config_file=sectioned)
    breakout = resolve_config(PPOConfig, "ppo", "ALE/Breakout-v5", config_file=sectioned)
    other = resolve_config(PPOConfig, "ppo", "ALEX/Pong-v5", config_file=sectioned)
    assert (pong.n_epochs, pong.n_steps) == (5, 7)
    assert (breakout.n_epochs, breakout.n_steps) == (4, 7)
    assert other.n_epochs == 2


def test_has_tuned_entry_matches_an_envs_own_entry_a_pattern_and_the_module_form(monkeypatch):
    from rlkit import config

    envs = {"CartPole-v1": {}, "MinAtar/*": {}, "Maze-v0": {}}
    monkeypatch.setattr(config, "packaged_config", lambda algo: {"envs": envs})
    assert config.has_tuned_entry("ppo", "CartPole-v1")
    assert config.has_tuned_entry("ppo", "MinAtar/Breakout-v1")
    assert config.has_tuned_entry("ppo", "my_envs:Maze-v0")
    assert not config.has_tuned_entry("ppo", "CartPole-v0")
    assert not config.has_tuned_entry("ppo", "ALE/Pong-v5")
    assert not config.has_tuned_entry("ppo", "my_envs:MinAtar")


def test_yaml_is_never_executed(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("n_epochs: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        resolve_config(PPOConfig, "ppo", "CartPole-v1", config_file=evil)


def test_round_trip_through_dict():
    cfg = resolve_config(PPOConfig, "ppo", "CartPole-v1")
    import dataclasses

    assert from_dict(PPOConfig, dataclasses.asdict(cfg)) == cfg


@pytest.mark.parametrize("overrides", [
    {"buffer_size": 10**12},  # numpy cannot allocate the replay buffer
    {"approximator": {"hidden_sizes": [10**6, 10**6]}},  # torch cannot allocate the layer
])
def test_a_config_too_big_for_this_machines_memory_is_a_config_error(overrides):
    with pytest.raises(ConfigError, match="needs more memory than this machine has"):
        rlkit.make("dqn", "CartPole-v1", seed=0, **overrides)


@pytest.mark.parametrize("items", [["a=1", "a.b=2"], ["a.b=2", "a=1"]])
def test_set_giving_a_key_a_value_and_sub_keys_is_a_config_error(items):
    with pytest.raises(ConfigError, match="a value and also sets keys inside it"):
        parse_set(items)


def test_a_config_file_that_is_not_text_is_a_config_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\x80\xff lr: 1")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        rlkit.make("ppo", "CartPole-v1", config_file=path)
