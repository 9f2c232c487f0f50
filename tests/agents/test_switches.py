"""Every boolean or choice config key of every agent, and the agent-level test that fails when
the agent ignores it.

``SWITCHES`` names, for each agent, the test of each such key (a bool, a Literal choice or an
optional value whose None turns a feature off). ``test_every_switch_has_a_named_test`` fails
when a config grows a switch that no test is named for, or when a named test disappears: a
new key comes with a test that sets it both ways and sees the agent behave differently. The
tests of keys every agent shares live here; the rest sit with their agent's tests.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import types
import typing
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

import rlkit
from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError
from rlkit.training.registry import agent_class, agent_names

TESTS = Path(__file__).resolve().parents[1]

COMMON = {  # TrainConfig and ApproximatorConfig: every agent
    "vectorization": "agents/test_switches.py::test_vectorization_picks_the_runners_vector_env",
    "normalize_obs":
        "core/test_normalize.py::test_normalize_obs_switch_changes_what_the_policy_sees",
    "normalize_reward":
        "core/test_normalize.py::test_normalize_reward_switch_scales_the_stored_rewards",
    "clip_reward": "core/test_rollout.py::test_clip_reward_learns_the_sign_and_reports_the_score",
    "fast_paths":
        "fast/test_switch.py::test_config_key_and_environment_variable_turn_every_path_off",
    "checkpoint_freq": "training/test_faults.py::test_checkpoint_freq_is_independent_of_eval_freq",
    "approximator.type": "approximators/test_heads.py::test_unknown_torso_is_a_config_error",
    "approximator.activation":
        "approximators/test_heads.py::test_mlp_computes_the_configured_layers",
    "approximator.layer_norm":
        "approximators/test_heads.py::test_mlp_computes_the_configured_layers",
    "approximator.norm": "approximators/test_heads.py::test_mlp_computes_the_configured_layers",
    "approximator.conv_layers":
        "approximators/test_cnn.py::test_cnn_computes_the_configured_layers",
    "approximator.conv_dense": "approximators/test_cnn.py::test_cnn_computes_the_configured_layers",
    "approximator.features": "approximators/test_linear.py::test_features_key_picks_the_map",
    "approximator.channels_first":
        "approximators/test_cnn.py::test_channels_first_key_overrides_the_guess",
    "approximator.encoder":
        "approximators/test_recurrent.py::test_the_encoder_key_puts_an_mlp_before_the_cell",
}
POLICY_GRADIENT = {
    "anneal_lr": "agents/test_switches.py::test_anneal_lr_decays_the_step_size",
    "share_torso": "agents/test_switches.py::test_share_torso_gives_pi_and_v_one_torso",
}
PPO_SWITCHES = {  # PPO's, and GAIL's and AIRL's (their update is PPO's)
    **POLICY_GRADIENT,
    "anneal_clip_range": "agents/test_ppo.py::test_anneal_clip_range_narrows_the_clip",
    "clip_range_vf": "agents/test_ppo.py::test_value_clipping_in_update",
    "normalize_advantage":
        "agents/test_ppo.py::test_advantage_normalization_scales_the_policy_gradient",
    "target_kl": "agents/test_ppo.py::test_target_kl_stops_the_epochs_early",
}
SWITCHES: dict[str, dict[str, str]] = {
    "ppo": PPO_SWITCHES,
    "a2c": {
        **POLICY_GRADIENT,
        "optimizer": "agents/test_a2c.py::test_optimizer_key_picks_the_update_rule",
        "normalize_advantage":
            "agents/test_a2c.py::test_advantage_normalization_in_the_policy_loss",
    },
    "reinforce": {
        **POLICY_GRADIENT,
        "baseline": "agents/test_reinforce.py::test_policy_loss_uses_return_minus_baseline",
        "normalize_advantage":
            "agents/test_reinforce.py::test_policy_loss_uses_return_minus_baseline",
        "value_learning_rate":
            "agents/test_reinforce.py::test_value_learning_rate_is_the_critics_step_size",
    },
    "dqn": {
        "frame_sharing": "core/test_frame_replay.py::test_dqn_buffer_follows_frame_sharing",
        "anneal_lr": "agents/test_switches.py::test_anneal_lr_decays_the_step_size",
        "double_q": "agents/test_dqn.py::test_update_uses_double_q_targets",
        "prioritized": "agents/test_dqn.py::test_prioritized_key_picks_the_replay",
        "dueling": "agents/test_dqn.py::test_dueling_head_is_v_plus_centred_advantages",
        "loss": "agents/test_dqn.py::test_loss_key_picks_huber_or_squared_error",
        "max_grad_norm": "agents/test_dqn.py::test_max_grad_norm_clips_the_update_gradient",
        "q_head": "agents/test_dqn.py::test_posterior_refit_is_the_closed_form_on_terminal_targets",
        "exploration":
            "agents/test_dqn.py::test_thompson_draws_one_weight_set_per_env_and_redraws_at_episode_ends",
    },
    "maxent_irl": {
        "optimizer": "agents/test_maxent_irl.py::test_optimizer_key_picks_the_update_rule",
        "demos": "agents/test_maxent_irl.py::test_demos_key_learns_from_recorded_episodes",
    },
    "bc": {
        "demos": "agents/test_bc.py::test_demonstrations_are_required_and_must_fit_the_env",
        "n_demos": "agents/test_bc.py::test_n_demos_takes_the_first_episodes",
    },
    "dagger": {
        "expert": "agents/test_dagger.py::test_the_expert_is_required_and_must_fit",
    },
    **{algo: {
        **PPO_SWITCHES,
        **{key.replace("approximator.", "discriminator.", 1): test
           for key, test in COMMON.items() if key.startswith("approximator.")},
        **dict.fromkeys(("discriminator.type", "discriminator.activation",
                         "discriminator.norm", "discriminator.layer_norm"),
                        "agents/test_gail.py::test_the_discriminator_key_builds_ds_torso"),
        "demos": "agents/test_gail.py::test_bad_values_are_config_errors",
        "n_demos": "agents/test_gail.py::test_n_demos_takes_the_first_episodes",
        "penalty": "agents/test_gail.py::test_the_penalty_key_picks_the_penalty",
        "generator": "agents/test_gail.py::test_the_generator_key_picks_the_policys_update",
        "normalize_learned_reward":
            "agents/test_gail.py::test_normalize_learned_reward_off_keeps_softplus_of_the_logit",
        **({"state_only": "agents/test_airl.py::test_state_only_makes_g_a_function_of_the_state"}
           if algo == "airl" else {}),
    } for algo in ("gail", "airl")},
    **{algo: {
        "lr_schedule": "agents/test_tabular.py::test_schedules",
    } for algo in ("qlearning", "sarsa", "expected_sarsa", "td0")},
}


def _is_switch(hint: object) -> bool:
    """bool, a Literal choice, or an optional value (None switches the feature off)."""
    if hint is bool or typing.get_origin(hint) is typing.Literal:
        return True
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in (
        typing.get_args(hint))


def _switches(config_cls: type, prefix: str = "") -> set[str]:
    hints = typing.get_type_hints(config_cls)
    found = set()
    for field in dataclasses.fields(config_cls):
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint):
            found |= _switches(hint, f"{prefix}{field.name}.")
        elif _is_switch(hint):
            found.add(prefix + field.name)
    return found


def _test_exists(reference: str) -> bool:
    path, name = reference.split("::")
    spec = importlib.util.spec_from_file_location(f"_switch_check_{name}", TESTS / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return callable(getattr(module, name, None))


@pytest.mark.parametrize("algo", agent_names())
def test_every_switch_has_a_named_test(algo):
    config_cls = agent_class(algo).Config
    named = {**COMMON, **SWITCHES.get(algo, {})}
    assert _switches(config_cls) == set(named), "a switch without a named test, or a stale name"
    missing = sorted({ref for ref in named.values() if not _test_exists(ref)})
    assert not missing


# --- keys every agent shares ----------------------------------------------------------------
TINY = {
    "ppo": dict(n_envs=2, n_steps=32, batch_size=64, n_epochs=1),
    "a2c": dict(n_envs=2, n_steps=8),
    "reinforce": dict(n_envs=2, rollout_steps=16, batch_episodes=2),
    "dqn": dict(learning_starts=64, batch_size=32, train_freq=16, gradient_steps=1,
                buffer_size=1000, approximator={"hidden_sizes": [16]}),
}


@pytest.mark.parametrize("anneal", [True, False])
@pytest.mark.parametrize("algo", sorted(TINY))
def test_anneal_lr_decays_the_step_size(algo, anneal):
    """lr_k = learning_rate * (1 - step_k / budget) at the update at env step step_k; the last
    update of a run comes at or near the end of its budget, so with annealing its step size is
    a small fraction of the configured one, and without it the configured one exactly. Every
    optimizer of the agent follows (REINFORCE's critic has its own)."""
    agent = rlkit.make(algo, "CartPole-v1", seed=0, anneal_lr=anneal, eval_freq=0,
                       eval_episodes=1, learning_rate=1e-3, **TINY[algo])
    agent.learn(512)
    optimizers = [agent.optimizer, getattr(agent, "value_optimizer", None)]
    base = [agent.config.learning_rate, getattr(agent, "value_learning_rate", None)]
    for optimizer, lr in zip(optimizers, base, strict=True):
        if optimizer is None:
            continue
        last = optimizer.param_groups[0]["lr"]
        if anneal:
            assert last <= 0.2 * lr
        else:
            assert last == lr


@pytest.mark.parametrize("share", [True, False])
@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce"])
def test_share_torso_gives_pi_and_v_one_torso(algo, share):
    """Shared: V's features are pi's (one torso, updated by both losses, in pi's optimizer);
    separate: two torsos with their own weights."""
    agent = rlkit.make(algo, "CartPole-v1", seed=0, share_torso=share, **TINY[algo])
    policy = agent.policy
    assert (policy.actor_torso is policy.critic_torso) == share
    torso_ids = {id(p) for p in policy.actor_torso.parameters()}
    critic_ids = {id(p) for p in policy.critic_torso.parameters()}
    assert bool(torso_ids & critic_ids) == share
    obs = torch.randn(3, 4)
    with torch.no_grad():
        torso_features = policy.actor_torso(obs)
        policy.value.value.weight.copy_(torch.ones_like(policy.value.value.weight))
        policy.value.value.bias.zero_()
        expected = torso_features.sum(-1)
        # float32 tolerance: a matmul and a sum round differently (1e-8 failed on CI)
        assert torch.allclose(policy.get_value(obs).reshape(-1), expected, atol=1e-5) == share


@pytest.mark.parametrize(("vectorization", "vector_type"), [
    ("sync", gym.vector.SyncVectorEnv),
    ("vector_entry_point", CartPoleVectorEnv),
])
@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_vectorization_picks_the_runners_vector_env(algo, vectorization, vector_type):
    agent = rlkit.make(algo, "CartPole-v1", seed=0, n_envs=2, vectorization=vectorization)
    runner = agent.make_runner()
    try:
        assert type(runner.env) is vector_type
    finally:
        runner.env.close()


def test_device_key_places_the_networks():
    """Where torch sees a GPU the networks go there; without one, asking for it is one clear
    error (never a failure deep inside the first forward pass)."""
    cpu = rlkit.make("ppo", "CartPole-v1", seed=0)
    assert {p.device.type for p in cpu.policy.parameters()} == {"cpu"}
    if torch.cuda.is_available():
        gpu = rlkit.make("ppo", "CartPole-v1", seed=0, device="cuda")
        assert {p.device.type for p in gpu.policy.parameters()} == {"cuda"}
        assert gpu.predict(np.zeros((2, 4), np.float32)).shape == (2,)
    else:
        with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
            rlkit.make("ppo", "CartPole-v1", seed=0, device="cuda")


def test_approximator_config_reaches_every_torso():
    """The same approximator entry builds the torso of every function-approximation agent."""
    config = {"hidden_sizes": [7, 5], "activation": "elu", "layer_norm": True}
    for algo in ("ppo", "a2c", "reinforce", "dqn"):
        agent = rlkit.make(algo, "CartPole-v1", seed=0, approximator=config)
        net = agent.q_net if algo == "dqn" else agent.policy
        torso = net.torso if algo == "dqn" else net.actor_torso
        kinds = [type(layer) for layer in torso.layers]
        assert kinds == [torch.nn.Linear, torch.nn.LayerNorm, torch.nn.ELU] * 2, algo
        assert torso.out_dim == 5
    assert ApproximatorConfig().type == "mlp"
