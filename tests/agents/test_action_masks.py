"""Invalid-action masking for the deep agents, from ``info["action_mask"]`` as sb3-contrib's
MaskablePPO reads it: masked actions are never taken and get no probability, in collection,
in the update's log-probabilities and entropies, in ``predict`` and in evaluation."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.approximators.heads import MASKED_LOGIT, masked
from rlkit.core.buffers import RolloutBuffer
from rlkit.core.rollout import action_masks_of
from rlkit.training.evaluation import evaluate


class MaskedEnv(gym.Env):
    """Action 0 pays 1 and the others 0, but a fresh random half of the actions (never all of
    them) is forbidden at each step: a policy that ignores the masks takes 0 where it is
    forbidden. ``multi``: MultiDiscrete([3, 3]) with a mask per component side by side."""

    metadata = {"render_modes": []}

    def __init__(self, multi: bool = False) -> None:
        self.multi = multi
        self.observation_space = gym.spaces.Box(0.0, 1.0, (6,), np.float32)
        self.action_space = (gym.spaces.MultiDiscrete([3, 3]) if multi
                             else gym.spaces.Discrete(4))
        self.t, self.mask = 0, np.ones(6 if multi else 4, dtype=np.int8)

    def _draw(self) -> dict[str, Any]:
        parts = [3, 3] if self.multi else [4]
        self.mask = np.concatenate([self.np_random.permutation(
            np.r_[np.ones(max(1, n // 2)), np.zeros(n - max(1, n // 2))]) for n in parts]
        ).astype(np.int8)
        obs = np.zeros(6, np.float32)
        obs[:len(self.mask)] = self.mask  # the policy can see what is allowed
        return obs, {"action_mask": self.mask.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._draw()

    def step(self, action):
        chosen = np.atleast_1d(np.asarray(action))
        offsets = np.array([0, 3]) if self.multi else np.array([0])
        if not self.mask[chosen + offsets].all():
            raise AssertionError(f"a masked action was taken: {action} under {self.mask}")
        self.t += 1
        obs, info = self._draw()
        return obs, float((chosen == 0).sum()), False, self.t >= 8, info


gym.register("rlkit_test/Masked-v0", entry_point=MaskedEnv)
gym.register("rlkit_test/MaskedMulti-v0", entry_point=MaskedEnv, kwargs={"multi": True})

SMALL = dict(n_envs=2, n_steps=16, batch_size=16, n_epochs=2, eval_freq=0, eval_episodes=2)


def collected(agent):
    """``agent`` after one collect() on its own runner, before any update."""
    agent.runner = agent.make_runner()
    agent.collect()
    return agent


def test_masked_logits_get_probability_zero_and_finite_entropy():
    logits = torch.tensor([[1.0, 2.0, 3.0, 0.5]])
    mask = torch.tensor([[True, False, True, False]])
    assert masked(logits, mask).tolist() == [[1.0, MASKED_LOGIT, 3.0, MASKED_LOGIT]]
    dist = torch.distributions.Categorical(logits=masked(logits, mask))
    expected = torch.softmax(torch.tensor([1.0, 3.0]), 0)
    torch.testing.assert_close(dist.probs[0, [0, 2]], expected)
    assert dist.probs[0, 1] == 0 and dist.probs[0, 3] == 0
    entropy = -(expected * expected.log()).sum()  # that of the two valid actions alone
    torch.testing.assert_close(dist.entropy()[0], entropy)


def test_masks_come_from_the_infos_and_an_env_without_one_allows_everything():
    infos = {"action_mask": np.array([[1, 0, 1], [0, 0, 0], [0, 0, 0]], np.int8),
             "_action_mask": np.array([True, True, False])}
    # env 1's mask allows nothing (no action leaves its state): every action, as env 2's
    assert action_masks_of(infos, 3).tolist() == [[True, False, True], [True] * 3, [True] * 3]
    assert action_masks_of({}, 3) is None


@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce"])
@pytest.mark.parametrize("env_id", ["rlkit_test/Masked-v0", "rlkit_test/MaskedMulti-v0"])
def test_policy_gradient_agents_never_take_a_masked_action(algo, env_id):
    """The env raises on a masked action; 2k steps of sampling, updates included, pass."""
    options = SMALL if algo == "ppo" else dict(n_envs=2, eval_freq=0, eval_episodes=2)
    agent = rlkit.make(algo, env_id, seed=0, **options)
    agent.learn(2048)
    buffer = agent.buffer if algo != "reinforce" else agent.chunk
    assert buffer.action_masks is not None and not buffer.action_masks.all()
    assert np.isfinite(evaluate(agent, 4)["mean_return"])  # evaluation passes the masks too


def test_the_update_reads_the_stored_masks():
    """PPO's loss sees the masked distribution: log-probs and entropies of the stored steps
    equal those computed by hand from the masked logits."""
    agent = collected(rlkit.make("ppo", "rlkit_test/Masked-v0", seed=0, **SMALL))
    batch = agent.buffer.get()
    assert batch.action_masks is not None
    log_probs, entropy, _ = agent.policy.evaluate(batch)
    with torch.no_grad():
        logits = agent.policy.policy.logits(agent.policy.actor_torso(batch.obs))
        by_hand = torch.log_softmax(logits.masked_fill(~batch.action_masks, -1e8), -1)
    torch.testing.assert_close(log_probs.detach(),
                               by_hand.gather(1, batch.actions[:, None]).squeeze(1))
    probs = by_hand.exp()
    torch.testing.assert_close(entropy.detach(), -(probs * by_hand).sum(1))
    torch.testing.assert_close(log_probs.detach(), batch.log_probs)  # as collected


def test_a_memory_torso_masks_while_acting_and_replaying():
    agent = collected(rlkit.make("ppo", "rlkit_test/Masked-v0", seed=0,
                                 approximator={"type": "gru"}, **SMALL))
    batch = agent.buffer.get()
    assert batch.action_masks is not None and batch.action_masks.shape[:2] == (16, 2)
    log_probs, _, _ = agent.policy.evaluate(batch)
    torch.testing.assert_close(log_probs.detach(), batch.log_probs)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_predict_takes_action_masks(algo):
    options = SMALL if algo == "ppo" else dict(n_envs=2, learning_starts=10, batch_size=8,
                                               eval_freq=0)
    agent = rlkit.make(algo, "rlkit_test/Masked-v0", seed=0, **options)
    obs = np.random.default_rng(0).random((64, 6)).astype(np.float32)
    masks = np.zeros((64, 4), bool)
    masks[np.arange(64), np.arange(64) % 4] = True  # one valid action per row
    for deterministic in (True, False):
        actions = agent.predict(obs, deterministic=deterministic, action_masks=masks)
        assert actions.tolist() == (np.arange(64) % 4).tolist()
    one = agent.predict(obs[0], action_masks=masks[0])
    assert one == 0


def test_reinforce_keeps_the_masks_of_running_episodes_across_a_checkpoint(tmp_path):
    agent = rlkit.make("reinforce", "rlkit_test/Masked-v0", seed=0, n_envs=2, eval_freq=0,
                       rollout_steps=3)
    agent.learn(6)  # no episode is complete yet: the masks wait with their steps
    state = agent.episodes.state_dict()
    assert "action_masks" in state and state["action_masks"].shape[-1] == 4
    restored = rlkit.make("reinforce", "rlkit_test/Masked-v0", seed=0, n_envs=2)
    restored.episodes.load_state_dict(state)
    np.testing.assert_array_equal(restored.episodes.action_masks[:restored.episodes.size],
                                  state["action_masks"])


def test_a_rollout_buffer_without_masks_keeps_none():
    buffer = RolloutBuffer(2, 1, (1,), ())
    buffer.add(np.zeros((1, 1)), np.zeros(1), np.zeros(1), np.zeros(1, bool),
               np.zeros(1, bool), np.ones(1, bool), 0.0, np.zeros(1))
    assert buffer.action_masks is None and buffer.get().action_masks is None


def test_reinforce_learns_from_the_masked_distribution():
    """The complete episodes keep the masks the env gave, and REINFORCE's log-probabilities
    and entropies are those of the masked logits."""
    agent = rlkit.make("reinforce", "rlkit_test/Masked-v0", seed=0, n_envs=2, eval_freq=0)
    agent.end_step = 10_000
    collected(agent)
    batch = agent.episodes.take_complete()
    masks = torch.as_tensor(batch.action_masks[batch.mask])
    assert not masks.all() and masks.any(1).all()  # half of every step's actions forbidden
    log_probs, entropy, _ = agent._evaluate(batch)
    with torch.no_grad():
        obs = torch.as_tensor(batch.obs[batch.mask])
        logits = agent.policy.policy.logits(agent.policy.actor_torso(obs))
        by_hand = torch.log_softmax(logits.masked_fill(~masks, -1e8), -1)
    actions = torch.as_tensor(batch.actions[batch.mask])
    torch.testing.assert_close(log_probs.detach(), by_hand.gather(1, actions[:, None])[:, 0])
    torch.testing.assert_close(entropy.detach(), -(by_hand.exp() * by_hand).sum(1))


def test_masked_td_targets_maximize_over_the_valid_next_actions():
    """y = r + gamma max_{b valid} Q(s', b): Q(s', .) = (5, 1, 3), b = 0 forbidden -> 3;
    double Q: the online net's best valid action, b = 1 (online Q 0, 2, 1), read in the
    target's Q (1)."""
    from rlkit.agents.dqn import double_q_values, max_q_values

    q_target = torch.tensor([[5.0, 1.0, 3.0]])
    mask = torch.tensor([[False, True, True]])
    assert max_q_values(q_target).item() == 5.0
    assert max_q_values(q_target, mask).item() == 3.0
    online = torch.tensor([[9.0, 2.0, 1.0]])
    assert double_q_values(online, q_target, mask).item() == 1.0


@pytest.mark.parametrize("options", [{}, {"n_step": 3, "prioritized": False}],
                         ids=["per", "nstep"])
def test_dqn_collects_only_valid_actions_and_keeps_the_next_states_masks(options):
    agent = rlkit.make("dqn", "rlkit_test/Masked-v0", seed=0, n_envs=2, learning_starts=64,
                       batch_size=16, train_freq=4, eval_freq=0, **options)
    agent.learn(1024)  # the env raises on a masked action: exploring and greedy steps alike
    stored = agent.next_masks[:len(agent.buffer)]
    assert (stored.sum(1) == 2).all()  # every next state allows half of its 4 actions
    # the next state's mask is what it shows: its first 4 features
    next_obs = agent.buffer.next_obs[:len(agent.buffer)]
    np.testing.assert_array_equal(stored, next_obs[:, :4] > 0.5)


@pytest.mark.parametrize("options", [{"prioritized": False, "double_q": False},
                                     {"prioritized": True, "double_q": True}],
                         ids=["uniform", "per-double"])
def test_dqns_update_bootstraps_from_the_valid_next_actions(monkeypatch, options):
    """The update hands the sampled transitions' next-state masks to the bootstrap (both of
    its paths): the stored masks at the sampled rows."""
    import rlkit.agents.dqn as dqn

    seen = []
    for name in ("max_q_values", "double_q_values"):
        original = getattr(dqn, name)

        def spy(*args, _original=original):
            seen.append(args[-1])
            return _original(*args)
        monkeypatch.setattr(dqn, name, spy)
    agent = rlkit.make("dqn", "rlkit_test/Masked-v0", seed=0, n_envs=2, learning_starts=64,
                       batch_size=16, train_freq=4, eval_freq=0, **options)
    agent.learn(256)
    assert seen and all(isinstance(m, torch.Tensor) and not m.all() for m in seen)


def test_multi_binary_masks_fix_the_bits_they_forbid():
    """Two flags per bit (0 allowed, 1 allowed): bit 0 free, bit 1 must be 1, bit 2 must be 0.
    The fixed bits are certain (log-prob 0, entropy 0); the free bit keeps its Bernoulli."""
    from rlkit.approximators.heads import BernoulliHead

    head = BernoulliHead(3, 3)
    features = torch.randn(5, 3)
    masks = torch.tensor([[True, True, False, True, True, False]]).expand(5, 6)
    dist = head(features, masks)
    samples = dist.sample((50,))
    assert (samples[..., 1] == 1).all() and (samples[..., 2] == 0).all()
    free = torch.distributions.Bernoulli(logits=head.logits(features)[:, 0])
    torch.testing.assert_close(dist.entropy(), free.entropy())
    action = torch.tensor([[1.0, 1.0, 0.0]]).expand(5, 3)
    torch.testing.assert_close(dist.log_prob(action), free.log_prob(torch.ones(5)))
