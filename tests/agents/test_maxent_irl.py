"""Maximum causal entropy IRL: soft value iteration and visitation frequencies by hand, the
gradient against the log-likelihood's, the models of the toy-text envs and of Rooms checked
against their own ``step``, the acceptance checks (occupancy within 1e-3, the learned reward's
optimal policy is the expert's) on Rooms, FrozenLake and CliffWalking, and the config errors."""

import math

import gymnasium as gym
import numpy as np
import pytest

import rlkit
from rlkit.agents.maxent_irl import (
    MaxEntIRLConfig,
    TabularModel,
    empirical_occupancy,
    log_sum_exp,
    occupancy,
    reachable,
    soft_bellman_backup,
    soft_policy,
    soft_value_iteration,
    tabular_model,
    value_iteration,
)
from rlkit.envs import RoomsEnv
from rlkit.errors import ConfigError
from rlkit.training.metrics import read_metrics

PHI = (1 + math.sqrt(5)) / 2  # the golden ratio, phi^2 = phi + 1


# --- soft value iteration and visitation frequencies by hand --------------------------------
def two_state_mdp() -> TabularModel:
    """State 0: action 0 stays (reward 0), action 1 moves to state 1 (reward 0). State 1: either
    action ends the episode with reward log(1/2)."""
    transitions = np.zeros((2, 2, 2))
    transitions[0, 0, 0] = transitions[0, 1, 1] = 1.0
    rewards = np.array([[0.0, 0.0], [math.log(0.5), math.log(0.5)]])
    return TabularModel(transitions, rewards, np.array([1.0, 0.0]))


def test_soft_value_iteration_on_a_two_state_mdp_by_hand():
    # gamma = 1/2. State 1: Q(1, .) = log 1/2, V(1) = log(2 * 1/2) = 0. State 0:
    # Q(0, 1) = 0 + gamma V(1) = 0 and Q(0, 0) = gamma V(0), so V(0) = log(exp(V(0) / 2) + 1);
    # with y = exp(V(0) / 2): y^2 = y + 1, y = phi. V(0) = 2 log phi, Q(0, 0) = log phi, and
    # pi(stay|0) = phi / (phi + 1) = 1 / phi.
    model = two_state_mdp()
    q = soft_value_iteration(model.rewards, model.transitions, 0.5)
    np.testing.assert_allclose(q, [[math.log(PHI), 0.0], [math.log(0.5), math.log(0.5)]],
                               atol=1e-12)
    np.testing.assert_allclose(log_sum_exp(q), [2 * math.log(PHI), 0.0], atol=1e-12)
    np.testing.assert_allclose(soft_policy(q), [[1 / PHI, 1 / PHI**2], [0.5, 0.5]], atol=1e-12)
    # the same fixed point as the backup itself, iterated (and from any warm start)
    backed = np.zeros((2, 2))
    for _ in range(200):
        backed = soft_bellman_backup(backed, model.rewards, model.transitions, 0.5)
    np.testing.assert_allclose(backed, q, atol=1e-12)
    warm = soft_value_iteration(model.rewards, model.transitions, 0.5, q0=np.full((2, 2), 9.0))
    np.testing.assert_allclose(warm, q, atol=1e-12)


def chain() -> TabularModel:
    """0 -> 1 -> 2 on action 0 ("move"), action 1 stays; anything from state 2 ends."""
    transitions = np.zeros((3, 2, 3))
    transitions[0, 0, 1] = transitions[0, 1, 0] = 1.0
    transitions[1, 0, 2] = transitions[1, 1, 1] = 1.0
    return TabularModel(transitions, np.zeros((3, 2)), np.array([1.0, 0.0, 0.0]))


def test_visitation_frequencies_on_a_chain_by_hand():
    # pi = 1/2 each, gamma = 1/2, starting in 0. d(0) = 1 + 1/4 d(0) = 4/3;
    # d(1) = 1/4 d(0) + 1/4 d(1) = 4/9; d(2) = 1/4 d(1) = 1/9. rho = (1 - gamma) d pi.
    rho = occupancy(np.full((3, 2), 0.5), chain().transitions, chain().start, 0.5)
    np.testing.assert_allclose(rho.sum(axis=1), [2 / 3, 2 / 9, 1 / 18], atol=1e-12)
    np.testing.assert_allclose(rho, np.array([[1 / 3] * 2, [1 / 9] * 2, [1 / 36] * 2]),
                               atol=1e-12)
    # the deterministic "move" policy: 1, gamma, gamma^2 -> (1 - gamma) (1, 1/2, 1/4)
    move = np.array([[1.0, 0.0]] * 3)
    np.testing.assert_allclose(occupancy(move, chain().transitions, chain().start, 0.5),
                               [[0.5, 0], [0.25, 0], [0.125, 0]], atol=1e-12)
    assert reachable(chain().start, chain().transitions, move).all()
    stay = np.array([[0.0, 1.0]] * 3)
    assert reachable(chain().start, chain().transitions, stay).tolist() == [True, False, False]
    # an agent acts in the start state and in the states transitions go on into
    assert chain().acting_states.all()
    one_way = TabularModel(chain().transitions * [[[0.0]], [[1.0]], [[1.0]]], np.zeros((3, 2)),
                           chain().start)  # nothing leads back to 0 nor from 0 to 1
    assert one_way.acting_states.tolist() == [True, True, True]
    assert TabularModel(one_way.transitions, np.zeros((3, 2)),
                        np.array([0.0, 1.0, 0.0])).acting_states.tolist() == [False, True, True]


def test_empirical_occupancy_by_hand():
    # two episodes, gamma = 1/2: (s0 a0, s1 a1) and (s0 a1). rho = (1 - gamma) / 2 sum gamma^t:
    # (0, 0): 1/2 * 1 / 2 = 1/4; (1, 1): 1/2 * 1/2 / 2 = 1/8; (0, 1): 1/4.
    rho = empirical_occupancy(np.array([0, 1, 0]), np.array([0, 1, 1]),
                              np.array([True, False, True]), 0.5, 2, 2)
    np.testing.assert_allclose(rho, [[0.25, 0.25], [0.0, 0.125]])
    with pytest.raises(ValueError, match="episode start"):
        empirical_occupancy(np.array([0]), np.array([0]), np.array([False]), 0.5, 2, 2)


# --- the gradient ---------------------------------------------------------------------------
def random_mdp(rng: np.random.Generator, n_states: int = 4, n_actions: int = 3) -> TabularModel:
    """Random dynamics that end the episode with probability 0.1 at every step."""
    transitions = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions)) * 0.9
    return TabularModel(transitions, rng.normal(size=(n_states, n_actions)),
                        rng.dirichlet(np.ones(n_states)))


def log_likelihood(theta: np.ndarray, rho_expert: np.ndarray, model: TabularModel,
                   gamma: float) -> float:
    """l(theta) = sum rho_E(s, a) log pi_theta(a|s)."""
    q = soft_value_iteration(theta, model.transitions, gamma)
    return float((rho_expert * (q - log_sum_exp(q)[:, None])).sum())


def test_the_gradient_is_the_log_likelihoods_and_points_to_the_expert():
    """rho_E - rho_theta equals d l / d theta (central differences), is negative on every
    action the expert never takes in a state it visits, and a step along it raises l and the
    probability of each of the expert's actions."""
    rng = np.random.default_rng(0)
    model, gamma = random_mdp(rng), 0.9
    expert = np.eye(3)[rng.integers(3, size=4)]  # deterministic
    rho_expert = occupancy(expert, model.transitions, model.start, gamma)
    theta = rng.normal(size=(4, 3))
    pi = soft_policy(soft_value_iteration(theta, model.transitions, gamma))
    gradient = rho_expert - occupancy(pi, model.transitions, model.start, gamma)
    numeric = np.zeros_like(theta)
    h = 1e-5
    for index in np.ndindex(theta.shape):
        bump = np.zeros_like(theta)
        bump[index] = h
        numeric[index] = (log_likelihood(theta + bump, rho_expert, model, gamma)
                          - log_likelihood(theta - bump, rho_expert, model, gamma)) / (2 * h)
    np.testing.assert_allclose(gradient, numeric, atol=1e-7)
    assert (gradient[expert == 0] < 0).all()
    stepped = theta + 0.5 * gradient
    assert log_likelihood(stepped, rho_expert, model, gamma) > log_likelihood(
        theta, rho_expert, model, gamma)
    pi_stepped = soft_policy(soft_value_iteration(stepped, model.transitions, gamma))
    assert (pi_stepped[expert == 1] > pi[expert == 1]).all()


def test_a_soft_optimal_experts_reward_is_found_up_to_shaping():
    """A soft-optimal expert lies in MCE IRL's model class: the gradient vanishes at its reward
    and at every shaping of it, r(s, a) + gamma sum_s' P(s'|s, a) h(s') - h(s) (the soft policy
    is the same), and not at a reward that favours one action more. (A deterministic expert has
    no such theta: see the module docstring.)"""
    model, gamma = random_mdp(np.random.default_rng(1)), 0.9
    expert = soft_policy(soft_value_iteration(model.rewards, model.transitions, gamma))
    rho_expert = occupancy(expert, model.transitions, model.start, gamma)

    def gradient(theta: np.ndarray) -> np.ndarray:
        pi = soft_policy(soft_value_iteration(theta, model.transitions, gamma))
        return rho_expert - occupancy(pi, model.transitions, model.start, gamma)

    h = np.random.default_rng(2).normal(scale=3.0, size=4)
    shaped = model.rewards + gamma * model.transitions @ h - h[:, None]
    assert np.abs(shaped - model.rewards).max() > 1.0
    np.testing.assert_allclose(gradient(shaped), 0.0, atol=1e-12)
    bumped = model.rewards.copy()
    bumped[0, 0] += 0.1
    assert np.abs(gradient(bumped)).sum() > 1e-3


# --- the models -----------------------------------------------------------------------------
def test_rooms_model_is_what_step_does():
    env = RoomsEnv()
    for room in range(6):
        for target in range(6):
            env._room = room
            next_room, reward, terminated, truncated, _ = env.step(target)
            assert env.P[room][target] == [(1.0, next_room, reward, terminated)]
    np.testing.assert_allclose(env.initial_state_distrib, [0.2] * 5 + [0.0])
    starts = {env.reset(seed=seed)[0] for seed in range(50)}
    assert starts == set(np.flatnonzero(env.initial_state_distrib))
    # value iteration on the model gives the env's own optimal Q (the notes' table) wherever
    # there is a door; a no-op is worth gamma V(s)
    model = tabular_model(env, "rooms")
    q_star = value_iteration(model.rewards, model.transitions, 0.8)
    doors = RoomsEnv.R != -1
    np.testing.assert_allclose(q_star[doors], RoomsEnv.optimal_q(0.8)[doors], atol=1e-8)
    np.testing.assert_allclose(q_star[0, 0], 0.8 * 80, atol=1e-8)


@pytest.mark.parametrize("env_id", ["CliffWalking-v1", "rlkit/Rooms-v0"])
def test_exact_occupancy_equals_the_expert_walked_through_the_env(env_id):
    """Deterministic dynamics and expert: one episode from each start state, walked with the
    env's own ``step``, has exactly the occupancy the model gives (terminal states included:
    the goal is never acted in)."""
    gamma = 0.9
    env = gym.make(env_id)
    model = tabular_model(env, env_id)
    q_star = value_iteration(model.rewards, model.transitions, gamma)
    expert = np.eye(q_star.shape[1])[q_star.argmax(axis=1)]
    states, actions, episode_starts = [], [], []
    for first in np.flatnonzero(model.start):
        state, _ = env.reset(options={"start": int(first)} if env_id == "rlkit/Rooms-v0" else None)
        assert state == first
        for t in range(100):
            action = int(q_star[state].argmax())
            states.append(state), actions.append(action), episode_starts.append(t == 0)
            state, _, terminated, _, _ = env.step(action)
            if terminated:
                break
        assert terminated
    walked = empirical_occupancy(np.array(states), np.array(actions), np.array(episode_starts),
                                 gamma, *model.rewards.shape)
    exact = occupancy(expert, model.transitions, model.start, gamma)
    np.testing.assert_allclose(exact, walked, atol=1e-12)
    assert set(np.flatnonzero(reachable(model.start, model.transitions, expert))) == set(states)


def test_frozen_lake_model_by_hand_next_to_the_goal():
    """Cell 14 (bottom row, the goal to its right), slippery: an action moves in its own
    direction or one of the two beside it, 1/3 each. Left (left, up, down) never reaches the
    goal; down, right and up each reach it one time in three, reward 1, and end the episode
    there: the expected reward is 1/3 and 2/3 of the mass goes on."""
    model = tabular_model(gym.make("FrozenLake-v1"), "FrozenLake-v1")
    np.testing.assert_allclose(model.rewards[14], [0, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(model.transitions[14].sum(axis=1), [1, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(model.transitions[14, 0, [10, 13, 14]], [1 / 3] * 3)
    np.testing.assert_allclose(model.start, np.eye(16)[0])
    assert model.acting_states.sum() == 16 - 5  # four holes and the goal are never acted in


def test_an_env_without_a_tabular_model_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"tabular model: env.unwrapped.P .* "
                                          r"rlkit/RandomWalk-v0 \(RandomWalkEnv\) has no P"):
        rlkit.make("maxent_irl", "rlkit/RandomWalk-v0")
    with pytest.raises(ConfigError, match="needs Discrete observations"):
        rlkit.make("maxent_irl", "CartPole-v1")
    env = RoomsEnv()
    env.P = {**env.P, 2: {**env.P[2], 3: [(0.5, 3, 0.0, False)]}}  # half of it lost
    with pytest.raises(ConfigError, match=r"P\[2\]\[3\] is not a distribution"):
        tabular_model(env, "rooms")
    env = RoomsEnv()
    del env.initial_state_distrib
    with pytest.raises(ConfigError, match="has no initial_state_distrib"):
        tabular_model(env, "rooms")


# --- the agent: acceptance on each env ------------------------------------------------------
ENVS = [
    ("rlkit/Rooms-v0", {}, 100.0),
    ("FrozenLake-v1", {}, None),  # slippery: the evaluation's return is a sample
    ("FrozenLake-v1", {"env_kwargs": {"is_slippery": False}}, 1.0),
    ("CliffWalking-v1", {}, -13.0),
]


@pytest.mark.parametrize(("env_id", "overrides", "optimal_return"), ENVS,
                         ids=["Rooms", "FrozenLake", "FrozenLake-not-slippery", "CliffWalking"])
def test_learned_reward_matches_the_experts_occupancy_and_policy(env_id, overrides,
                                                                 optimal_return, tmp_path):
    """The acceptance: ||rho_E - rho_theta||_1 < 1e-3 over state-action pairs (so the state
    occupancies' L1 and max-abs gaps too), and the optimal (hard max) policy of the learned
    reward, by value iteration, takes the expert's action in every state the expert visits.
    The expert is the optimal policy of the true reward, computed here on its own."""
    agent = rlkit.make("maxent_irl", env_id, seed=0, **overrides)
    agent.learn(run_dir=tmp_path / "run")
    model, gamma = agent.model, agent.config.gamma
    rho_expert = agent.expert_occupancy
    gap = np.abs(rho_expert - agent.occupancy)
    assert gap.sum() < 1e-3
    assert np.abs(rho_expert.sum(1) - agent.occupancy.sum(1)).max() < 1e-3
    q_true = value_iteration(model.rewards, model.transitions, gamma)
    expert_actions = q_true.argmax(axis=1)
    np.testing.assert_allclose(rho_expert[np.arange(len(q_true)), expert_actions],
                               rho_expert.sum(axis=1))  # the expert is the optimal policy
    visited = reachable(model.start, model.transitions, np.eye(q_true.shape[1])[expert_actions])
    assert visited.sum() >= 3 and (rho_expert.sum(axis=1)[visited] > 0).all()
    learned = value_iteration(agent.reward.table(), model.transitions, gamma).argmax(axis=1)
    assert (learned[visited] == expert_actions[visited]).all()
    # evaluated in the env like every agent; the metrics were logged
    if optimal_return is not None:
        assert agent.last_eval["mean_return"] == optimal_return
    last = read_metrics(tmp_path / "run")[-1]
    assert last["irl/occupancy_gap"] < 1e-3 and last["irl/policy_agreement"] == 1.0
    assert last["irl/expert_true_return"] == pytest.approx(model.start @ q_true.max(axis=1))
    assert last["irl/greedy_true_return"] == pytest.approx(last["irl/expert_true_return"])
    assert {"irl/reward_correlation", "eval/mean_return"} <= set(last)
    # -sum rho_E log pi_theta >= 0 falls as pi_theta sharpens on the expert's actions
    first = read_metrics(tmp_path / "run")[0]
    assert first["losses/nll"] > last["losses/nll"] and 0 < last["losses/nll"] < 1e-3


def test_a_resumed_run_ends_with_the_uninterrupted_runs_reward(tmp_path):
    straight = rlkit.make("maxent_irl", "CliffWalking-v1", seed=3, eval_freq=0,
                          occupancy_tol=1e-12)  # never reached in 40 steps
    straight.learn(40)
    first = rlkit.make("maxent_irl", "CliffWalking-v1", seed=3, eval_freq=0, occupancy_tol=1e-12)
    first.learn(20)
    first.save(tmp_path / "half.pt")
    resumed = rlkit.load(tmp_path / "half.pt")
    np.testing.assert_array_equal(resumed.soft_q, first.soft_q)
    resumed.learn(20)
    assert straight.n_updates == resumed.n_updates == 40
    np.testing.assert_array_equal(resumed.reward.table(), straight.reward.table())
    np.testing.assert_array_equal(resumed.predict(np.arange(48)), straight.predict(np.arange(48)))


def test_before_learning_the_greedy_policy_stays_inside_and_collect_wanders():
    """theta = 0 on Rooms: leaving ends the soft value (V = 0 outside, log sum exp > 0
    inside), so the greedy policy never leaves and earns 0, against the expert's
    (80 + 100 + 64 + 80 + 100) / 5 = 84.8 at gamma 0.8. collect acts with the soft policy,
    nearly uniform among the moves inside: many different moves, where the greedy policy
    makes one per room."""
    agent = rlkit.make("maxent_irl", "rlkit/Rooms-v0", seed=0, eval_freq=0)
    metrics = agent.metrics()
    assert metrics["irl/greedy_true_return"] == 0.0
    assert metrics["irl/expert_true_return"] == pytest.approx(84.8)
    assert metrics["irl/policy_agreement"] < 1.0 and metrics["irl/occupancy_gap"] > 0.5
    agent.runner = agent.make_runner()
    moves = set()
    for _ in range(200):
        before = int(agent.runner.obs[0])
        agent.collect()  # no update: theta stays 0
        moves.add((before, int(agent.runner.obs[0])))
    assert len(moves) > 10


def test_each_update_takes_gradient_steps_per_n_envs_env_steps():
    agent = rlkit.make("maxent_irl", "CliffWalking-v1", seed=0, n_envs=2, gradient_steps=3,
                       occupancy_tol=1e-12, eval_freq=0)
    agent.learn(20)
    assert (agent.global_step, agent.n_updates) == (20, 30)


def test_act_is_greedy_in_the_soft_q_or_samples_pi():
    agent = rlkit.make("maxent_irl", "rlkit/Rooms-v0", seed=0)
    agent.soft_q[2] = np.log([0.1, 0.2, 0.3, 0.4, 1e-9, 1e-9])
    states = np.full(20_000, 2)
    assert (agent.predict(states, deterministic=True) == 3).all()
    drawn = agent.predict(states, deterministic=False)
    np.testing.assert_allclose(np.bincount(drawn, minlength=6) / len(states),
                               [0.1, 0.2, 0.3, 0.4, 0.0, 0.0], atol=0.01)
    masks = np.tile([True, True, False, False, True, True], (len(states), 1))
    assert (agent.predict(states, deterministic=True, action_masks=masks) == 1).all()
    drawn = agent.predict(states, deterministic=False, action_masks=masks)
    assert set(np.unique(drawn)) == {0, 1}


# --- the switches ---------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_optimizer_key_picks_the_update_rule(optimizer):
    """The first step: the plain gradient moves theta by eta (rho_E - rho); Adam's first step,
    m / sqrt(v) bias-corrected, by about eta sign(rho_E - rho). On a deterministic expert Adam ends
    in a few dozen steps where the plain step, converging like 1/t, is still far."""
    agent = rlkit.make("maxent_irl", "rlkit/Rooms-v0", seed=0, optimizer=optimizer,
                       eval_freq=0)
    gradient = agent.expert_occupancy - agent.occupancy
    agent.update()
    # Adam: m_1 / (1 - beta1) = g, v_1 / (1 - beta2) = g^2, step g / (|g| + eps)
    expected = gradient if optimizer == "sgd" else gradient / (np.abs(gradient) + 1e-8)
    np.testing.assert_allclose(agent.reward.table(), expected, atol=1e-12)
    agent.learn(100)
    assert (agent.occupancy_gap < 1e-4) == (optimizer == "adam")


@pytest.mark.parametrize("learning_rate", [0.3, 3.0])
def test_adam_converges_within_the_default_budget_over_a_range_of_step_sizes(learning_rate):
    """ADAM_BETAS: with a short memory of the squared gradient Adam's steps keep their length
    as the gradient shrinks; with torch's default beta2 = 0.999, eta = 0.3 takes 1,500 steps
    on Rooms."""
    agent = rlkit.make("maxent_irl", "rlkit/Rooms-v0", seed=0, learning_rate=learning_rate,
                       eval_freq=0)
    agent.learn()
    assert agent.config.total_timesteps == 200 and agent.occupancy_gap < 1e-4


def test_expert_key_takes_a_saved_agents_greedy_policy(tmp_path):
    """``expert: PATH``: the greedy policy of a saved agent is the demonstrator. A trained
    maxent_irl agent acts as the optimal policy in every state the optimal policy visits, so
    its occupancy is the value-iteration expert's; a worse saved policy has another one."""
    trained = rlkit.make("maxent_irl", "CliffWalking-v1", seed=0, eval_freq=0)
    trained.learn()
    trained.save(tmp_path / "expert.pt")
    student = rlkit.make("maxent_irl", "CliffWalking-v1", seed=1,
                         expert=str(tmp_path / "expert.pt"))
    np.testing.assert_allclose(student.expert_occupancy, trained.expert_occupancy, atol=1e-12)
    fresh = rlkit.make("maxent_irl", "CliffWalking-v1", seed=0, total_timesteps=1, eval_freq=0)
    fresh.save(tmp_path / "fresh.pt")  # theta = 0: the soft Q's greedy policy, not the optimum
    other = rlkit.make("maxent_irl", "CliffWalking-v1", expert=str(tmp_path / "fresh.pt"))
    greedy = np.eye(4)[fresh.actions(np.arange(48), deterministic=True)]
    model = fresh.model
    np.testing.assert_allclose(other.expert_occupancy,
                               occupancy(greedy, model.transitions, model.start, 0.99), atol=1e-12)
    assert np.abs(other.expert_occupancy - trained.expert_occupancy).sum() > 0.1
    with pytest.raises(ConfigError, match="does not exist"):
        rlkit.make("maxent_irl", "CliffWalking-v1", expert=str(tmp_path / "nothing.pt"))
    with pytest.raises(ConfigError, match="is for CliffWalking-v1"):
        rlkit.make("maxent_irl", "rlkit/Rooms-v0", expert=str(tmp_path / "expert.pt"))


def test_demos_key_learns_from_recorded_episodes(tmp_path):
    """demos: 200 episodes of the optimal policy on Rooms, written as a Minari dataset, give
    rho_E as their empirical discounted occupancy (near the exact one: sampling error only),
    no expert policy, and a learned reward whose optimal policy is the expert's on every state
    the episodes visit. A missing dataset is the loader's one-line error."""
    from rlkit.core.demonstrations import DemonstrationsError, Episode, write_minari

    teacher = rlkit.make("maxent_irl", "rlkit/Rooms-v0", seed=0)
    expert_actions = teacher.expert_policy.argmax(axis=1)
    env = gym.make("rlkit/Rooms-v0")
    episodes = []
    for i in range(200):
        obs, _ = env.reset(seed=i)
        episode = Episode([obs], seed=i)
        done = False
        while not done:
            action = int(expert_actions[obs])
            obs, reward, terminated, truncated, _ = env.step(action)
            episode.step(action, obs, reward, terminated, truncated)
            done = terminated or truncated
        episodes.append(episode)
    write_minari(tmp_path / "rooms", episodes, env.observation_space, env.action_space,
                 env_id="rlkit/Rooms-v0")
    student = rlkit.make("maxent_irl", "rlkit/Rooms-v0", seed=0, demos=str(tmp_path / "rooms"),
                         total_timesteps=20, eval_freq=0)
    assert student.expert_policy is None
    assert 0 < np.abs(student.expert_occupancy - teacher.expert_occupancy).sum() < 0.2
    student.learn()
    metrics = student.metrics()
    assert metrics["irl/policy_agreement"] == 1.0
    assert "irl/expert_true_return" not in metrics
    with pytest.raises(DemonstrationsError, match="nothing"):
        rlkit.make("maxent_irl", "rlkit/Rooms-v0", demos=str(tmp_path / "nothing"))


# --- config errors --------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "value"), [
    ("learning_rate", float("nan")), ("learning_rate", -0.1), ("learning_rate", 0.0),
    ("occupancy_tol", float("nan")), ("occupancy_tol", -1e-3), ("occupancy_tol", float("inf")),
    ("gradient_steps", 0), ("gamma", 1.0), ("normalize_obs", True),
])
def test_a_bad_config_value_is_a_config_error(key, value):
    with pytest.raises(ConfigError, match=key) as error:
        rlkit.make("maxent_irl", "rlkit/Rooms-v0", **{key: value})
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError):
        MaxEntIRLConfig(**{key: value}).validate()
