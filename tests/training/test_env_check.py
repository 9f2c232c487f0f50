"""`rlkit check-env ENV` (issue 33): Gymnasium's checker, rlkit's checks of the values and the
seeding, and which agents take the env's spaces, in one table."""

import gymnasium as gym
import numpy as np
import pytest

from rlkit.cli import main
from rlkit.training.env_check import check_env


class _Walk(gym.Env):
    """A one-dimensional walk; ``flaw`` plants one fault a check must find."""

    observation_space = gym.spaces.Box(-10.0, 10.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, flaw: str = "none") -> None:
        self.flaw = flaw
        self.position = 0.0
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if self.flaw == "unseeded":  # draws from a generator the seed does not reach
            self.position = float(np.random.default_rng().uniform(-1, 1))
        else:
            self.position = float(self.np_random.uniform(-1, 1))
        self.steps = 0
        return self._obs(), {}

    def step(self, action):
        self.position += 1.0 if action == 1 else -1.0
        self.steps += 1
        reward = float("nan") if self.flaw == "nan_reward" and self.steps == 3 else 1.0
        return self._obs(), reward, abs(self.position) > 5, self.steps >= 20, {}

    def _obs(self):
        dtype = np.float64 if self.flaw == "float64" else np.float32
        return np.array([self.position], dtype=dtype)


for _flaw in ("none", "unseeded", "float64", "nan_reward"):
    gym.register(f"rlkit_test/Walk-{_flaw}-v0", entry_point=_Walk, kwargs={"flaw": _flaw},
                 disable_env_checker=True)


def _by_name(env_id):
    return {check.name: check for check in check_env(env_id)}


def test_a_sound_env_passes_every_check_and_lists_the_agents_that_take_it():
    checks = _by_name("rlkit_test/Walk-none-v0")
    env_checks = {name: c for name, c in checks.items() if not name.startswith("agent ")}
    assert all(c.ok for c in env_checks.values()), env_checks
    assert checks["agent ppo"].ok and checks["agent dqn"].ok
    assert not checks["agent qlearning"].ok
    assert "needs Discrete observations" in checks["agent qlearning"].detail


@pytest.mark.parametrize("flaw, failing", [
    ("unseeded", "seeding"),
    ("float64", "observation dtype"),
    ("nan_reward", "rewards finite numbers"),
])
def test_each_planted_fault_fails_its_check(flaw, failing):
    checks = _by_name(f"rlkit_test/Walk-{flaw}-v0")
    failed = {name for name, c in checks.items() if not c.ok and not name.startswith("agent ")}
    assert failing in failed


def test_the_command_prints_one_table_and_exits_1_when_a_check_fails(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["check-env", "CartPole-v1"])
    out = capsys.readouterr().out
    assert exit_info.value.code in (0, None)
    assert "rlkit check-env CartPole-v1" in out and "seeding" in out and "agent dqn" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["check-env", "rlkit_test/Walk-unseeded-v0"])
    assert exit_info.value.code == 1
    assert "FAIL" in capsys.readouterr().out


def test_an_unknown_env_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["check-env", "CartPol-v1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: unknown env id 'CartPol-v1'")
