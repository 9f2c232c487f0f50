"""n-step transitions across episode ends (terminated, truncated, autoreset) by hand and
against a brute-force reference."""

import numpy as np
import pytest

from rlkit.core.buffers import ReplayBuffer
from rlkit.core.nstep import NStepAccumulator

GAMMA = 0.5


def run(acc: NStepAccumulator, steps: list[tuple]) -> list[tuple]:
    """Feed (obs, reward, next_obs, terminated, truncated, valid) rows for 1 env; collect
    (obs, G, next_obs, terminated, discount) tuples in emission order."""
    out = []
    for obs, r, nxt, term, trunc, valid in steps:
        res = acc.add(np.array([[obs]], np.float32), np.zeros(1), np.array([r], np.float32),
                      np.array([[nxt]], np.float32), np.array([term]), np.array([trunc]),
                      np.array([valid]))
        if res is not None:
            for i in range(len(res.rewards)):
                out.append((float(res.obs[i, 0]), float(res.rewards[i]),
                            float(res.next_obs[i, 0]), bool(res.terminated[i]),
                            float(res.discounts[i])))
    return out


@pytest.mark.parametrize("terminated", [True, False])
def test_three_step_returns_across_an_episode_end_by_hand(terminated):
    acc = NStepAccumulator(1, 3, GAMMA, (1,), ())
    # episode: obs 0..3 with rewards 1, 2, 3, 4; the step from obs 3 ends it (final obs 4);
    # then the autoreset step (invalid, obs 4 -> reset obs 10) and a new episode 10 -> 11 -> 12
    steps = [(0, 1, 1, False, False, True), (1, 2, 2, False, False, True),
             (2, 3, 3, False, False, True), (3, 4, 4, terminated, not terminated, True),
             (4, 0, 10, False, False, False),
             (10, 8, 11, False, False, True), (11, 8, 12, False, False, True)]
    got = run(acc, steps)
    assert got == [
        (0.0, 1 + .5 * 2 + .25 * 3, 3.0, False, 0.125),  # full window, bootstraps from obs 3
        (1.0, 2 + .5 * 3 + .25 * 4, 4.0, terminated, 0.125),  # ends with the episode
        (2.0, 3 + .5 * 4, 4.0, terminated, 0.25),
        (3.0, 4.0, 4.0, terminated, 0.5),
    ]  # obs 10 and 11 wait for a third step; nothing crosses into the new episode
    (tail,) = run(acc, [(12, 8, 13, False, False, True)])
    assert tail == (10.0, 8 + 4 + 2, 13.0, False, 0.125)


def test_n_equal_one_is_the_one_step_transition():
    acc = NStepAccumulator(1, 1, GAMMA, (1,), ())
    got = run(acc, [(0, 1, 1, False, False, True), (1, 2, 2, True, False, True),
                    (2, 0, 5, False, False, False)])
    assert got == [(0.0, 1.0, 1.0, False, 0.5), (1.0, 2.0, 2.0, True, 0.5)]


def reference(traj: list[tuple], n: int, gamma: float) -> list[tuple]:
    """Brute force for one env: (obs, G, next_obs, terminated, discount) for every valid step."""
    out = []
    for t, (obs, _, _, _, _, valid) in enumerate(traj):
        if not valid:
            continue
        g, m = 0.0, 0
        for k in range(n):
            _, r, nxt, term, trunc, _ = traj[t + k] if t + k < len(traj) else (None,) * 6
            if r is None:
                return out  # window runs past the data: not emitted yet
            g += gamma**k * r
            m = k + 1
            if term or trunc:
                break
        out.append((obs, g, nxt, bool(term), gamma**m))
    return out


def test_many_envs_out_of_phase_match_brute_force():
    rng = np.random.default_rng(0)
    n_envs, n, T = 3, 4, 60
    trajs = []
    for e in range(n_envs):
        traj, obs, ended = [], 100.0 * e, False
        for _ in range(T):
            if ended:  # autoreset step
                traj.append((obs, 0.0, obs + 50, False, False, False))
                obs, ended = obs + 50, False
                continue
            term, trunc = rng.random() < 0.1, rng.random() < 0.1
            r = float(rng.integers(-3, 4))
            traj.append((obs, r, obs + 1, term, trunc and not term, True))
            obs, ended = obs + 1, term or trunc
        trajs.append(traj)
    acc = NStepAccumulator(n_envs, n, 0.9, (1,), ())
    buf = ReplayBuffer(1000, (1,), (), store_discounts=True)
    for t in range(T):
        rows = [trajs[e][t] for e in range(n_envs)]
        col = [np.array(x) for x in zip(*rows, strict=True)]
        res = acc.add(col[0][:, None].astype(np.float32), np.zeros(n_envs),
                      col[1].astype(np.float32), col[2][:, None].astype(np.float32),
                      col[3], col[4], col[5])
        if res is not None:
            buf.add(res.obs, res.actions, res.rewards, res.next_obs, res.terminated,
                    discounts=res.discounts)
    got = sorted(zip(buf.obs[: len(buf), 0].tolist(), buf.rewards[: len(buf)].tolist(),
                     buf.next_obs[: len(buf), 0].tolist(),
                     buf.terminated[: len(buf)].astype(bool).tolist(),
                     buf.discounts[: len(buf)].tolist(), strict=True))
    want = sorted(x for traj in trajs for x in reference(traj, n, 0.9))
    assert len(got) == len(want) > 100
    for g, w in zip(got, want, strict=True):
        assert g[0] == w[0] and g[2] == w[2] and g[3] == w[3]
        assert g[1] == pytest.approx(w[1], abs=1e-5) and g[4] == pytest.approx(w[4], rel=1e-6)


def test_state_dict_round_trip():
    a = NStepAccumulator(1, 3, GAMMA, (1,), ())
    run(a, [(0, 1, 1, False, False, True), (1, 2, 2, False, False, True)])
    b = NStepAccumulator(1, 3, GAMMA, (1,), ())
    b.load_state_dict(a.state_dict())
    step = [(2, 3, 3, False, False, True)]
    assert run(a, step) == run(b, step) == [(0.0, 2.75, 3.0, False, 0.125)]


def test_transitions_hold_float32_returns_and_discounts():
    """... and observations and actions of the dtypes asked for; the ring's pending counts are
    integers (they go into checkpoints)."""
    acc = NStepAccumulator(1, 2, GAMMA, obs_shape=(1,), action_shape=(),
                           obs_dtype=np.float32, action_dtype=np.int64)
    assert acc.state_dict()["length"].dtype == np.int64
    out = None
    for _ in range(2):
        out = acc.add(np.zeros((1, 1), np.float32), np.zeros(1), np.array([1.0], np.float32),
                      np.zeros((1, 1), np.float32), np.array([False]), np.array([False]),
                      np.array([True]))
    assert out.rewards.dtype == np.float32 and out.discounts.dtype == np.float32
    assert out.obs.dtype == np.float32 and out.actions.dtype == np.int64
    np.testing.assert_allclose(out.rewards, [1.5])  # 1 + 0.5 * 1
    np.testing.assert_allclose(out.discounts, [0.25])
