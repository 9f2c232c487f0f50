"""Checkpoints written by an earlier rlkit still load (issue 32: moving modules must not break
the files users have). tests/data/checkpoints/ holds small agents saved by the rlkit of
commit 34fa538, before the layout moved every module, with the actions and parameter sums
they gave then (make_checkpoints.py there wrote both)."""

import json
from pathlib import Path

import numpy as np
import pytest

import rlkit

DATA = Path(__file__).parents[1] / "data" / "checkpoints"
EXPECTED = json.loads((DATA / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_checkpoint_from_before_the_layout_loads_acts_and_trains_on(name):
    expected = EXPECTED[name]
    agent = rlkit.load(DATA / f"{name}.pt")
    assert (agent.name, agent.env_id, agent.global_step) == (
        expected["algo"], expected["env_id"], expected["global_step"])
    for key, total in expected["parameters"].items():
        module = agent.modules()[key]
        loaded = (float(module.values.sum()) if key == "values" else
                  float(sum(p.detach().double().sum() for p in module.parameters())))
        assert loaded == pytest.approx(total, rel=1e-6, abs=1e-6)
    actions = agent.predict(np.asarray(expected["obs"]), deterministic=True)
    if isinstance(actions, tuple):  # a memory torso also returns its state
        actions = actions[0]
    assert np.asarray(actions).tolist() == expected["actions"]
    agent.learn(64)
    assert agent.global_step >= expected["global_step"] + 64
