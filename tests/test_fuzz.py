"""Fuzzing what users hand rlkit (hypothesis): ``--set`` keys and values, YAML config files,
checkpoint files. Each input ends in a valid agent or one RlkitError line, never a traceback,
and no checkpoint runs code.

``RLKIT_FUZZ_EXAMPLES=N`` raises the number of inputs per test (CI runs the default).
"""

import io
import os
import pickle
import zipfile
from dataclasses import fields, is_dataclass

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rlkit
from rlkit.config import parse_set
from rlkit.errors import CheckpointError, ConfigError, RlkitError
from rlkit.training.checkpoint import load_checkpoint
from rlkit.training.registry import agent_class

pytestmark = pytest.mark.faults

EXAMPLES = int(os.environ.get("RLKIT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
ALGOS = {"ppo": "CartPole-v1", "a2c": "CartPole-v1", "dqn": "CartPole-v1",
         "reinforce": "CartPole-v1", "qlearning": "FrozenLake-v1"}


def config_keys(cls) -> list[str]:
    """Every key ``--set`` accepts for ``cls``, nested ones dotted."""
    keys = []
    for f in fields(cls):
        keys.append(f.name)
        default = f.default_factory() if callable(f.default_factory) else f.default
        if is_dataclass(default):
            keys += [f"{f.name}.{k}" for k in config_keys(type(default))]
    return keys


KEYS = sorted({key for algo in ALGOS for key in config_keys(agent_class(algo).Config)})
# sizes stay small enough to build: a valid n_envs of 10**9 would try to make 10**9 envs
small_ints = st.integers(-3, 300)
scalars = st.one_of(small_ints, st.floats(allow_nan=True, allow_infinity=True, width=32),
                    st.booleans(), st.none(), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6),
                                                 inner, max_size=3)), max_leaves=6)
raw_values = st.one_of(
    values.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip().removesuffix(
        "\n...")),
    st.text(max_size=24),  # anything a user may type
    st.sampled_from(["!!python/object/apply:os.system ['touch pwned']", "&a [*a]", "[1, [2",
                     "{a: }", "1e999", "-.inf", ".nan", "0x10", "~", "'", "[]", "{}"]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=16),
                 st.sampled_from(KEYS).map(lambda k: k + ".x"),
                 st.sampled_from(KEYS).map(lambda k: "approximator." + k))


def float_keys(cls, prefix: str = "") -> list[str]:
    """Every key of ``cls`` whose field takes a float (possibly or None), nested ones dotted."""
    keys = []
    for f in fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default
        if is_dataclass(default):
            keys += float_keys(type(default), f"{prefix}{f.name}.")
        elif "float" in str(f.type):
            keys.append(prefix + f.name)
    return keys


NON_FINITE = [".nan", ".inf", "-.inf", "inf", "nan", "1e999"]


@pytest.mark.parametrize("algo", sorted(ALGOS) + ["td0"])
def test_every_float_key_rejects_nan_and_infinities_with_one_line(algo):
    """No field takes NaN or an infinity: each float key, set to each way of writing one, is
    a ConfigError of one line that names the key (not a traceback from torch.optim, not a
    run that trains silently or diverges later)."""
    keys = float_keys(agent_class(algo).Config)
    assert {"gamma", "clip_obs", "approximator.dropout"} <= set(keys)
    env_id = ALGOS.get(algo, "rlkit/RandomWalk-v0")
    for key in keys:
        for text in NON_FINITE:
            with pytest.raises(ConfigError) as error:
                rlkit.make(algo, env_id, **parse_set([f"{key}={text}"]))
            message = str(error.value)
            assert "\n" not in message and f"'{key}'" in message, message


def valid_or_one_line(build) -> None:
    """``build()`` returns an agent or raises RlkitError with a one-line message; anything
    else fails the test (hypothesis then shrinks the input that did it)."""
    try:
        build()
    except RlkitError as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)


@FUZZ
@given(algo=st.sampled_from(sorted(ALGOS)),
       items=st.lists(st.tuples(keys, raw_values), min_size=1, max_size=3))
def test_random_set_items_give_a_config_or_one_error_line(algo, items):
    texts = [f"{key}={value}" for key, value in items]
    # as the CLI calls it: --set's keys (a seed among them) are make()'s overrides
    valid_or_one_line(lambda: rlkit.make(algo, ALGOS[algo], **parse_set(texts)))


@FUZZ
@given(algo=st.sampled_from(sorted(ALGOS)), content=st.one_of(
    st.dictionaries(keys, values, max_size=5).map(lambda d: yaml.safe_dump(d).encode()),
    st.text(max_size=200).map(str.encode),
    st.binary(max_size=200),  # garbage, not even UTF-8
))
def test_random_yaml_files_give_a_config_or_one_error_line(tmp_path_factory, algo, content):
    path = tmp_path_factory.mktemp("yaml") / "config.yaml"
    path.write_bytes(content)
    valid_or_one_line(lambda: rlkit.make(algo, ALGOS[algo], seed=0, config_file=path))


@FUZZ
@given(content=st.binary(max_size=400))
@pytest.mark.filterwarnings("error")  # no torch warning on stderr next to the error line
def test_random_bytes_as_a_checkpoint_are_a_checkpoint_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, n_envs=2, n_steps=64, batch_size=64)
    path = tmp_path_factory.mktemp("real") / "checkpoint.pt"
    agent.learn(128, run_dir=path.parent)
    return path.read_bytes()


@FUZZ
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      min_size=1, max_size=8))
def test_a_checkpoint_with_random_bytes_changed_loads_or_is_a_checkpoint_error(
        tmp_path_factory, real_checkpoint, flips):
    data = bytearray(real_checkpoint)
    for where, byte in flips:
        data[int(where * len(data))] = byte
    path = tmp_path_factory.mktemp("flip") / "checkpoint.pt"
    path.write_bytes(bytes(data))
    valid_or_one_line(lambda: rlkit.load(path))


class Payload:
    """Unpickling this would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.filterwarnings("error")  # nothing but the CheckpointError reaches the user
def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    import torch

    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    torch.save({"format_version": 1, "algo": "ppo", "x": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError):
        rlkit.load(path)
    assert not marker.exists()
    # the same payload as a bare pickle, and inside a zip that is no torch archive
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(Payload(marker)))
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not marker.exists()
