"""Tabular agents on Tuple and MultiDiscrete observations: table rows by hand, errors, the update
and checkpoints through a Tuple env, and Blackjack-v1 learned to within 0.02 of the exact
optimum.

Blackjack's optimal expected return and the exact return of any deterministic policy are
computed below by dynamic programming over the infinite deck, in exact fractions, so the
learning test scores the learned greedy policy with no sampling noise.
"""

from fractions import Fraction
from functools import cache

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.toy_text import blackjack

import rlkit
from rlkit.agents.tabular import state_index, state_observation
from rlkit.errors import ConfigError

Discrete, MultiDiscrete, Tuple = gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.Tuple
BLACKJACK = Tuple((Discrete(32), Discrete(11), Discrete(2)))  # (sum, dealer card, usable ace)


# --- observations to table rows by hand -----------------------------------------------------
@pytest.mark.parametrize("obs, row", [
    ((0, 0, 0), 0),
    ((0, 0, 1), 1),  # the last component varies fastest (row-major)
    ((0, 1, 0), 2),  # one dealer card on: 2 rows (the ace flag's size)
    ((1, 0, 0), 22),  # one sum on: 11 * 2 rows
    ((15, 10, 0), 350),  # (15 * 11 + 10) * 2 + 0
    ((4, 1, 1), 91),  # (4 * 11 + 1) * 2 + 1
    ((31, 10, 1), 703),  # the last of 32 * 11 * 2 = 704 rows
])
def test_blackjack_tuples_by_hand(obs, row):
    assert state_index(obs, BLACKJACK) == row
    assert state_index(np.array(obs), BLACKJACK) == row  # components on the last axis
    assert [int(x[0]) for x in state_observation(np.array([row]), BLACKJACK)] == list(obs)


def test_a_vector_envs_tuple_of_arrays_gives_one_row_per_env():
    # Env 0 sees (15, 10, 0) and env 1 (4, 1, 1): one array per component, as Gymnasium
    # batches a Tuple.
    batch = (np.array([15, 4]), np.array([10, 1]), np.array([0, 1]))
    np.testing.assert_array_equal(state_index(batch, BLACKJACK), [350, 91])
    np.testing.assert_array_equal(state_index(np.stack(batch, axis=1), BLACKJACK), [350, 91])


def test_multidiscrete_and_tuple_components_numbered_from_start():
    # nvec (3, 4), start (1, -2): x = (2, 1) -> (1, 3) -> 1 * 4 + 3 = 7; the first value of each
    # component is row 0, the last (3, 1) -> (2, 3) -> 2 * 4 + 3 = 11.
    space = MultiDiscrete([3, 4], start=[1, -2])
    assert state_index(np.array([2, 1]), space) == 7
    np.testing.assert_array_equal(state_index(np.array([[1, -2], [3, 1], [2, 1]]), space),
                                  [0, 11, 7])
    np.testing.assert_array_equal(state_observation(np.array([7, 11]), space), [[2, 1], [3, 1]])
    # Tuple(Discrete(3, start=5), Discrete(2)): (7, 1) -> (2, 1) -> 2 * 2 + 1 = 5.
    shifted = Tuple((Discrete(3, start=5), Discrete(2)))
    assert state_index((7, 1), shifted) == 5
    assert state_index((5, 0), shifted) == 0
    # Discrete(n, start=k): x - k, as before.
    assert state_index(12, Discrete(4, start=10)) == 2


def test_a_component_out_of_range_raises():
    with pytest.raises(ValueError):
        state_index((32, 0, 0), BLACKJACK)  # sum 32 in a Discrete(32)
    with pytest.raises(ValueError):
        state_index(np.array([0, 1]), MultiDiscrete([3, 4], start=[1, -2]))  # 0 < start 1


# --- small envs on the spaces --------------------------------------------------------------
SPACES = {
    "tuple": Tuple((Discrete(3, start=1), Discrete(4))),
    "multidiscrete": MultiDiscrete([3, 4], start=[1, 0]),
    "box-in-tuple": Tuple((Discrete(3), gym.spaces.Box(-1.0, 1.0, (2,), np.float32))),
    "nested": Tuple((Discrete(3), Tuple((Discrete(2), Discrete(2))))),
    "multidiscrete-2d": MultiDiscrete([[2, 3], [4, 5]]),
}


class TwoPartBandit(gym.Env):
    """Starts in (2, 3); action 1 pays 1 and action 0 pays 0, and either ends the episode in
    (3, 0). Row of (2, 3) with components numbered from (1, 0) and sizes (3, 4):
    (2 - 1) * 4 + 3 = 7; of (3, 0): 2 * 4 + 0 = 8."""

    action_space = Discrete(2)

    def __init__(self, space: str = "tuple"):
        self.observation_space = SPACES[space]

    def _obs(self, obs):
        return obs if isinstance(self.observation_space, Tuple) else np.array(obs, np.int64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs((2, 3)), {}

    def step(self, action):
        return self._obs((3, 0)), float(action), True, False, {}


@pytest.fixture
def bandit(register_env):
    def make(space):
        return register_env(f"test/TwoPart-{space}-v0", TwoPartBandit, kwargs={"space": space})
    return make


@pytest.mark.parametrize("space, name", [
    ("box-in-tuple", "Tuple(Discrete(3), Box(shape=(2,), dtype=float32))"),
    ("nested", "Tuple(Discrete(3), Tuple(Discrete(2), Discrete(2)))"),
    ("multidiscrete-2d", "MultiDiscrete([[2 3]\n [4 5]])"),
])
def test_unsupported_spaces_fail_with_one_line(bandit, space, name):
    env_id = bandit(space)
    with pytest.raises(ConfigError) as info:
        rlkit.make("qlearning", env_id)
    assert str(info.value) == (
        f"qlearning needs Discrete observations; {env_id} has {name} (tabular agents take a "
        "Discrete, a one-axis MultiDiscrete or a Tuple of Discretes). Use a deep agent such as "
        "dqn or ppo.").replace("\n", "\\n")
    with pytest.raises(ConfigError, match="CartPole-v1 has Box"):
        rlkit.make("sarsa", "CartPole-v1")


@pytest.mark.parametrize("space", ["tuple", "multidiscrete"])
def test_qlearning_writes_the_row_of_the_observation(bandit, space):
    """Random behaviour (eps 1), eta 0.5, 2 envs: from (2, 3), row 7, Q(7, 1) -> 1 - 0.5^k
    and Q(7, 0) stays 0 (its TD errors are 0). No other row is written: the episode ends in
    (3, 0), row 8, and a terminal state is never learned from."""
    agent = rlkit.make("qlearning", bandit(space), seed=0, n_envs=2, learning_rate=0.5,
                       lr_schedule="constant", exploration_initial_eps=1.0,
                       exploration_final_eps=1.0, initial_value=0.0, eval_freq=0,
                       total_timesteps=40)
    assert agent.n_states == 12 and agent.table.values.shape == (12, 2)
    agent.learn()
    q = agent.table.values
    assert np.flatnonzero(q.any(axis=1)).tolist() == [7]
    assert q[7, 0] == 0.0 and 0.9 < q[7, 1] < 1.0
    assert agent.runner.obs.dtype == np.int64 and set(agent.runner.obs.tolist()) <= {7, 8}
    start = (2, 3) if space == "tuple" else np.array([2, 3])
    assert agent.predict(start) == 1 and not isinstance(agent.predict(start), np.ndarray)
    batch = (np.array([2, 3]), np.array([3, 0])) if space == "tuple" else np.array([[2, 3], [3, 0]])
    np.testing.assert_array_equal(agent.predict(batch), [1, 0])  # row 8: all 0, lowest index
    text = agent.describe_policy().splitlines()  # 12 rows: the table, labelled by observation
    assert len(text) == 13 and text[8].split()[:3] == ["(2,", "3)", "1"]


def test_blackjack_runner_holds_the_row_of_the_first_deal():
    agent = rlkit.make("qlearning", "Blackjack-v1", seed=3, n_envs=2, eval_freq=0)
    assert agent.n_states == 704
    agent.runner = agent.make_runner()
    for i in range(2):  # the vector env resets env i with seed + i
        (total, card, ace), _ = gym.make("Blackjack-v1").reset(seed=3 + i)
        assert agent.runner.obs[i] == (total * 11 + card) * 2 + ace
    assert agent.describe_policy() is None  # 704 rows: too many to print


def test_blackjack_resume_equals_uninterrupted_run(interrupt_and_resume):
    """The runner's observations are rows, so its checkpoint holds one int per env and the
    resumed run continues the same episodes: table and metrics bit for bit."""
    def make():
        return rlkit.make("qlearning", "Blackjack-v1", seed=0, n_envs=4, total_timesteps=4000,
                          eval_freq=1000, log_freq=400)

    full, resumed = interrupt_and_resume(make, at=300)
    np.testing.assert_array_equal(resumed.table.values, full.table.values)


def test_td0_reads_a_blackjack_policy_row_by_row(tmp_path):
    q_agent = rlkit.make("qlearning", "Blackjack-v1", seed=0, eval_freq=0)
    q_agent.table.values[:, 0] = 0.0
    q_agent.table.values[:, 1] = np.random.default_rng(0).random(704) - 0.5  # hit where > 0
    q_agent.save(tmp_path / "q.pt")
    td0 = rlkit.make("td0", "Blackjack-v1", policy=str(tmp_path / "q.pt"))
    np.testing.assert_array_equal(td0.fixed.values, (q_agent.table.values[:, 1] > 0).astype(int))


# --- Blackjack-v1 exactly: the infinite deck by dynamic programming ------------------------
# The rules of gymnasium/envs/toy_text/blackjack.py: cards 1 (ace) to 9 with probability 1/13
# each and 10 with 4/13 (10, J, Q, K), drawn with replacement. An ace counts 11 while that
# keeps the hand at 21 or below (a "usable" ace). The player sees (sum, dealer's first card,
# usable ace) and hits (1) or sticks (0); over 21 loses at once. On a stick the dealer, whose
# second card was dealt face down, draws while its sum is below 17 (a soft 17 stands), and the
# higher score wins (+1 / -1; the dealer over 21 scores 0). A natural is an ace and a ten as
# the first two cards: with sab=True (the rules Blackjack-v1 is registered with) a player's
# natural that sticks wins +1 unless the dealer also has one (a draw); with sab=False it is a
# 21 like any other, paid 1.5 when it wins if natural=True.
STICK, HIT = 0, 1
CARD = {value: Fraction(4 if value == 10 else 1, 13) for value in range(1, 11)}


def hand(raw: int, ace: bool) -> tuple[int, int]:
    """(sum, usable ace) of a hand whose cards add up to ``raw`` with aces as 1."""
    return (raw + 10, 1) if ace and raw + 10 <= 21 else (raw, 0)


@cache
def dealer_final(raw: int, ace: bool) -> dict[int, Fraction]:
    """{final score: probability} of a dealer hand (cards adding up to ``raw``, aces as 1);
    score 0 is a bust."""
    total, _ = hand(raw, ace)
    if total >= 17:
        return {0 if total > 21 else total: Fraction(1)}
    out: dict[int, Fraction] = {}
    for card, p in CARD.items():
        for score, q in dealer_final(raw + card, ace or card == 1).items():
            out[score] = out.get(score, 0) + p * q
    return out


def dealer_natural(card: int) -> Fraction:
    """P(the face-down card makes the dealer's two cards a natural | the face-up ``card``)."""
    return CARD[10] if card == 1 else CARD[1] if card == 10 else Fraction(0)


@cache
def stick_value(total: int, card: int) -> Fraction:
    """E[reward] of sticking on ``total`` (<= 21) against the dealer's face-up ``card``: the
    face-down card is the dealer's first draw."""
    return sum(q * ((total > score) - (total < score))
               for score, q in dealer_final(card, card == 1).items())


def natural_value(card: int, sab: bool, natural: bool) -> Fraction:
    """E[reward] of sticking on a natural."""
    if sab:
        return 1 - dealer_natural(card)  # +1, or 0 against a dealer's natural
    if natural:
        return Fraction(3, 2) * sum(q for score, q in dealer_final(card, card == 1).items()
                                    if score < 21)
    return stick_value(21, card)


def after_hit(total: int, usable: int, card: int) -> tuple[int, int] | None:
    """(sum, usable ace) after drawing ``card``, or None for a bust. The observation is the
    whole state: an ace counted as 1 can never count 11 again, as the sum only grows."""
    raw = total - 10 * usable + card
    return None if raw > 21 else hand(raw, bool(usable) or card == 1)


def hit_value(total, usable, card, value) -> Fraction:
    return sum(p * (-1 if (nxt := after_hit(total, usable, c)) is None else value(*nxt, card))
               for c, p in CARD.items())


def deal_return(value, natural_sticks: dict[int, Fraction]) -> Fraction:
    """E[return] over the first deal: two player cards and the dealer's face-up card. A
    natural's observation is that of any soft 21; ``natural_sticks[card]`` is its value when
    the policy sticks there (absent: it hits, and is then like any other soft 21)."""
    out = Fraction(0)
    for card, p_card in CARD.items():
        for first, p_first in CARD.items():
            for second, p_second in CARD.items():
                if {first, second} == {1, 10} and card in natural_sticks:
                    start = natural_sticks[card]
                else:
                    start = value(*hand(first + second, 1 in (first, second)), card)
                out += p_card * p_first * p_second * start
    return out


def policy_return(policy: np.ndarray, sab: bool = True, natural: bool = False) -> Fraction:
    """The exact expected return of the deterministic ``policy[sum, dealer card, usable ace]``
    (an array of shape (32, 11, 2) over the observations)."""
    @cache
    def value(total, usable, card):
        if policy[total, card, usable] == STICK:
            return stick_value(total, card)
        return hit_value(total, usable, card, value)

    naturals = {card: natural_value(card, sab, natural) for card in CARD
                if policy[21, card, 1] == STICK}
    return deal_return(value, naturals)


@cache
def optimal_value(total: int, usable: int, card: int) -> Fraction:
    """max(stick, hit) with the best play after the hit (the sum only grows: it ends)."""
    return max(stick_value(total, card), hit_value(total, usable, card, optimal_value))


def optimal_policy() -> np.ndarray:
    """The best action for every observation (ties: stick); sums over 21 end the episode.

    Best for a natural too: its stick value is at least a 21's, which is at least hitting's
    (test_a_natural_sticks_at_least_as_well_as_any_21)."""
    policy = np.full((32, 11, 2), STICK)
    for total in range(4, 22):
        for usable in (0, 1) if total >= 12 else (0,):
            for card in CARD:
                if hit_value(total, usable, card, optimal_value) > stick_value(total, card):
                    policy[total, card, usable] = HIT
    return policy


def registered_rules() -> tuple[bool, bool]:
    """(sab, natural) of Blackjack-v1 as gym.make builds it (and so as the agents train)."""
    env = gym.make("Blackjack-v1").unwrapped
    return env.sab, env.natural


OPTIMUM = {  # exact, for (sab, natural); Blackjack-v1 is registered with sab=True
    (True, False): -0.0431131,
    (False, False): -0.0465560,
    (False, True): -0.0257292,
}


def test_dealer_outcomes_by_hand():
    # From a hard 16 the dealer draws once: 1 to 5 give 17 to 21 (1/13 each; an ace counts 1,
    # 16 + 11 > 21), 6 to 10 bust: 4/13 + 4/13 = 8/13.
    assert dealer_final(16, False) == {17: Fraction(1, 13), 18: Fraction(1, 13),
                                       19: Fraction(1, 13), 20: Fraction(1, 13),
                                       21: Fraction(1, 13), 0: Fraction(8, 13)}
    # A soft 17 (ace + 6) stands; a soft 16 (ace + 5) draws, and a 10 then makes it a hard 16.
    assert dealer_final(7, True) == {17: 1}
    assert dealer_final(6, True)[0] > 0
    # A face-down ten under an ace is a natural with 4/13, an ace under a ten with 1/13.
    assert (dealer_natural(1), dealer_natural(10), dealer_natural(5)) == (
        Fraction(4, 13), Fraction(1, 13), 0)
    for card in CARD:
        assert sum(dealer_final(card, card == 1).values()) == 1


def test_hands_by_hand():
    assert hand(2, True) == (12, 1)  # ace + ace: 11 + 1
    assert hand(12, True) == (12, 0)  # an ace that would make it 22 counts 1
    assert after_hit(21, 1, 10) == (21, 0)  # soft 21 + 10: hard 21
    assert after_hit(18, 1, 5) == (13, 0)  # soft 18 + 5: hard 13, no bust
    assert after_hit(10, 0, 1) == (21, 1)  # hard 10 + ace: soft 21
    assert after_hit(12, 0, 10) is None


def test_policies_by_hand():
    # Always hitting busts every hand: exactly -1.
    assert policy_return(np.full((32, 11, 2), HIT)) == -1
    # Sticking on 20 against the dealer's hard 16 wins on a bust (8/13) and on 17-19 (3/13),
    # draws on 20 and loses on 21: 11/13 - 1/13 = 10/13.
    assert sum(q * ((20 > s) - (20 < s)) for s, q in dealer_final(16, False).items()) == \
        Fraction(10, 13)


def test_a_natural_sticks_at_least_as_well_as_any_21():
    for sab, natural in OPTIMUM:
        for card in CARD:
            stick_21 = stick_value(21, card)
            assert natural_value(card, sab, natural) >= stick_21
            assert stick_21 >= hit_value(21, 1, card, optimal_value)


def test_the_optimal_policy_is_sutton_and_bartos():
    """Figure 5.2 of Sutton & Barto (2018): hit below 12 (hard) and on soft 17 or less; stick
    on hard 17 and up, on hard 13-16 against 2-6, on hard 12 against 4-6, on soft 19 and up,
    on soft 18 unless the dealer shows an ace, 9 or 10. Columns: dealer card A, 2, ..., 10."""
    policy = optimal_policy()
    hard = {total: "H" * 10 for total in range(4, 12)} | {
        12: "HHHSSSHHHH", **{t: "HSSSSSHHHH" for t in range(13, 17)},
        **{t: "S" * 10 for t in range(17, 22)}}
    soft = {total: "H" * 10 for total in range(12, 18)} | {
        18: "HSSSSSSSHH", 19: "S" * 10, 20: "S" * 10, 21: "S" * 10}
    for usable, rows in ((0, hard), (1, soft)):
        for total, row in rows.items():
            got = "".join("H" if policy[total, card, usable] == HIT else "S"
                          for card in range(1, 11))
            assert got == row, (total, usable)


def test_the_optimum_and_the_registered_rules():
    assert registered_rules() == (True, False)  # Blackjack-v1: gym.make(..., sab=True)
    policy = optimal_policy()
    for (sab, natural), value in OPTIMUM.items():
        assert float(policy_return(policy, sab, natural)) == pytest.approx(value, abs=5e-8)
    # always sticking: -0.18292 (a 200k-episode Monte-Carlo run gave -0.1810 +- 0.0021)
    assert float(policy_return(np.full((32, 11, 2), STICK))) == pytest.approx(-0.182925, abs=1e-6)


def enumerated_return(policy: np.ndarray, sab: bool, natural: bool) -> Fraction:
    """The exact return of ``policy`` by enumerating every card sequence through the env's own
    hand functions (blackjack.py's sum_hand, score, is_natural...): an independent check that
    shares no code with the dynamic programme above. Hands are sorted tuples of cards."""
    @cache
    def stick(score: int, player_natural: bool, up: int) -> Fraction:
        """BlackjackEnv.step's reward on a stick, in expectation over the dealer's cards."""
        out = Fraction(0)
        for hidden, p in CARD.items():
            dealer = _env_dealer(tuple(sorted((up, hidden))))
            for (dealer_score, dealer_has_natural), q in dealer.items():
                reward = blackjack.cmp(score, dealer_score)
                if sab and player_natural and not dealer_has_natural:
                    reward = 1.0
                elif not sab and natural and player_natural and reward == 1.0:
                    reward = 1.5
                out += p * q * Fraction(reward)
        return out

    @cache
    def value(player: tuple, up: int) -> Fraction:
        total, usable = blackjack._hand_sum_and_usable_ace(list(player))
        if policy[total, up, usable] == HIT:
            return sum(p * (-1 if blackjack.is_bust([*player, c]) else
                            value(tuple(sorted((*player, c))), up)) for c, p in CARD.items())
        return stick(blackjack.score(list(player)), blackjack.is_natural(list(player)), up)

    return sum(CARD[up] * CARD[a] * CARD[b] * value(tuple(sorted((a, b))), up)
               for up in CARD for a in CARD for b in CARD)


@cache
def _env_dealer(dealer: tuple) -> dict[tuple[int, bool], Fraction]:
    """{(final score, natural): probability} of a dealer hand (a sorted tuple), drawn as
    BlackjackEnv.step draws."""
    if blackjack.sum_hand(list(dealer)) >= 17:
        return {(blackjack.score(list(dealer)), blackjack.is_natural(list(dealer))): Fraction(1)}
    out: dict[tuple[int, bool], Fraction] = {}
    for c, p in CARD.items():
        for final, q in _env_dealer(tuple(sorted((*dealer, c)))).items():
            out[final] = out.get(final, 0) + p * q
    return out


def test_the_dynamic_programme_equals_an_enumeration_through_the_envs_code():
    assert sorted(set(blackjack.deck)) == list(CARD)  # the deck the DP assumes
    assert all(Fraction(blackjack.deck.count(c), len(blackjack.deck)) == p
               for c, p in CARD.items())
    # The optimal policy, always sticking, and a random policy (which hits on some soft 21s,
    # naturals included), under each rule set: equal as fractions.
    policies = [optimal_policy(), np.full((32, 11, 2), STICK),
                np.random.default_rng(0).integers(0, 2, (32, 11, 2))]
    assert {int(policies[2][21, card, 1]) for card in CARD} == {STICK, HIT}
    for sab, natural in OPTIMUM:
        for policy in policies:
            assert enumerated_return(policy, sab, natural) == policy_return(policy, sab, natural)


@pytest.mark.slow
def test_the_optimum_agrees_with_monte_carlo_in_the_real_env():
    """100k episodes of the optimal policy in Blackjack-v1 (measured 2026-12-07: 200k and two
    runs of 1M gave -0.0467, -0.0440 and -0.0441, +- 0.0021 / 0.00095; one env, 1M:
    -0.0433 +- 0.00095)."""
    policy, n = optimal_policy(), 100_000
    env = gym.make_vec("Blackjack-v1", num_envs=100, vectorization_mode="sync",
                       vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP})
    obs, _ = env.reset(seed=12345)
    returns, running, resetting = [], np.zeros(100), np.zeros(100, bool)
    while len(returns) < n:
        obs, rewards, terminated, truncated, _ = env.step(policy[obs[0], obs[1], obs[2]])
        running += rewards * ~resetting
        ends = (terminated | truncated) & ~resetting
        returns += running[ends].tolist()
        running[ends], resetting = 0.0, terminated | truncated
    returns = np.array(returns)
    mean, se = returns.mean(), returns.std() / np.sqrt(len(returns))
    assert abs(mean - OPTIMUM[True, False]) < 4 * se, (mean, se)


# --- acceptance: Q-learning on Blackjack-v1 to within 0.02 of the optimum --------------------
BAR = 0.02


def greedy_policy(agent) -> np.ndarray:
    """The agent's greedy action for every observation, as an array (32, 11, 2)."""
    observations = tuple(np.indices((32, 11, 2)).reshape(3, -1))
    return np.asarray(agent.predict(observations)).reshape(32, 11, 2)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qlearning_blackjack_within_002_of_the_optimum(seed):
    """Exact return of the greedy policy, configs/qlearning.yaml's entry as it ships.
    Untrained, the greedy policy sticks everywhere (ties go to action 0): -0.1829, 0.140 below
    the optimum. Trained (2026-12-07), 0.0010 / 0.0037 / 0.0016 below it for seeds 0 / 1 / 2;
    seeds 0-9 at most 0.0068 (RLKIT_LEARNING_SEEDS=0-9), about 16 s a seed."""
    agent = rlkit.make("qlearning", "Blackjack-v1", seed=seed, eval_freq=0)
    rules = registered_rules()
    optimum = OPTIMUM[rules]
    assert optimum - float(policy_return(greedy_policy(agent), *rules)) > BAR
    agent.learn()
    gap = optimum - float(policy_return(greedy_policy(agent), *rules))
    assert gap <= BAR, f"greedy policy {gap:.4f} below the optimum {optimum:.4f}"


def test_a_table_too_large_is_a_config_error():
    gym.register("rlkit_test/HugeGrid-v0", entry_point=lambda: _Huge())
    with pytest.raises(ConfigError, match=r"would hold 1e\+10 values .* use a deep agent"):
        rlkit.make("qlearning", "rlkit_test/HugeGrid-v0")


class _Huge(gym.Env):
    observation_space = gym.spaces.MultiDiscrete([100] * 5)
    action_space = gym.spaces.Discrete(1)

    def reset(self, *, seed=None, options=None):
        return np.zeros(5, np.int64), {}

    def step(self, action):
        return np.zeros(5, np.int64), 0.0, True, False, {}
