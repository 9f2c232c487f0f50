import importlib
import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

# No test may reach W&B's servers.
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")


class _MutantAgentsFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Under mutmut, ``rlkit.agents[.x]`` is the mutated top-level ``agents[.x]``.

    pyproject maps the package ``rlkit.agents`` to the folder ``agents/``. mutmut copies that
    folder to ``mutants/agents/`` and names its mutants ``agents.<module>.<function>``; a
    trampoline only switches to a mutant when its function's ``__module__`` is ``agents.<module>``.
    Without this finder the editable install would import the unmutated ``agents/`` as
    ``rlkit.agents``. With it, ``import rlkit.agents.dqn`` returns the very module object
    ``agents.dqn`` (imported from ``mutants/``), so there is one copy and mutants switch on.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "rlkit.agents" or fullname.startswith("rlkit.agents."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    specs = {}  # agents.x -> its own spec, which the alias import overwrites

    def create_module(self, spec):
        module = importlib.import_module(spec.name.removeprefix("rlkit."))
        self.specs[module.__name__] = module.__spec__
        return module

    def exec_module(self, module):
        module.__spec__ = self.specs[module.__name__]


_ROOT = Path(__file__).resolve().parent.parent
if _ROOT.name == "mutants" and (_ROOT / "agents").is_dir():  # the tests run from mutmut's copy
    sys.meta_path.insert(0, _MutantAgentsFinder())


def learning_seeds() -> list[int] | None:
    """``RLKIT_LEARNING_SEEDS`` ("0-9" or "0,3,7"): the seeds every learning test runs on in
    place of its own 0-2 (benchmarks/learning_tests.py measures each entry on 10 seeds)."""
    spec = os.environ.get("RLKIT_LEARNING_SEEDS")
    if not spec:
        return None
    if "-" in spec:
        first, last = spec.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(seed) for seed in spec.split(",")]


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    """Under ``RLKIT_LEARNING_SEEDS``, a slow test's ``parametrize("seed", ...)`` takes those
    seeds (before pytest's own hook reads the marks)."""
    seeds = learning_seeds()
    if seeds is None or metafunc.definition.get_closest_marker("slow") is None:
        return
    markers = metafunc.definition.own_markers
    for index, marker in enumerate(markers):
        if marker.name == "parametrize" and marker.args[0] == "seed":
            markers[index] = pytest.mark.parametrize("seed", seeds).mark


def pytest_configure(config):
    """Under ``-n``, xdist hands tests out one at a time (``--maxschedchunk 1``) unless told
    otherwise: its default gives each worker a run of consecutive tests, an eighth of the
    suite at first, and where one run holds several learning tests of minutes each, one worker
    works through them while the other idles at the end."""
    if config.pluginmanager.hasplugin("xdist") and config.getoption("maxschedchunk") is None:
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(config, items):
    """The learning tests (``slow``: seconds to 3 minutes each) first, then the rest, each in
    collection order: handed out one at a time, the long ones then run side by side from the
    start, and the short ones fill the end, so both workers finish together."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _single_thread_torch():
    """Tests run on small nets: one thread is fastest and keeps results machine-stable."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# Tiny registered envs for tests (registered for one test, then removed).
class TwoArmedBandit(gym.Env):
    """One-step episodes from a constant observation: arm 1 pays 1, arm 0 pays 0."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), float(action == 1), True, False, {}


class Counter(gym.Env):
    """obs = steps taken so far, reward 1 per step, terminates after ``terminate_at`` steps."""

    observation_space = gym.spaces.Box(0.0, 100.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, terminate_at: int = 100):
        self.terminate_at = terminate_at

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), 1.0, self.t >= self.terminate_at, False, {}


@pytest.fixture
def register_env():
    """``register_env(env_id, entry_point, **kwargs)``; every id is unregistered afterwards."""
    ids = []

    def register(env_id, entry_point, **kwargs):
        gym.register(env_id, entry_point=entry_point, **kwargs)
        ids.append(env_id)
        return env_id

    yield register
    for env_id in ids:
        gym.registry.pop(env_id, None)


@pytest.fixture
def bandit(register_env):
    return register_env("test/TwoArmedBandit-v0", TwoArmedBandit)


@pytest.fixture
def counter(register_env):
    """``counter(terminate_at, max_steps)`` -> env id of a Counter with that time limit."""

    def make(terminate_at, max_steps):
        env_id = f"test/Counter{terminate_at}x{max_steps}-v0"
        return register_env(env_id, Counter, max_episode_steps=max_steps,
                            kwargs={"terminate_at": terminate_at})

    return make


@pytest.fixture
def signal_during_update(monkeypatch):
    """``signal_during_update(agent, at, signum=SIGINT)``: the agent's ``at``-th update first
    sends this process ``signum`` (Ctrl-C, or a scheduler's SIGTERM, in mid-training)."""
    import os
    import signal

    def arm(agent, at, signum=signal.SIGINT):
        original, calls = agent.update, {"n": 0}

        def update_then_signal():
            calls["n"] += 1
            if calls["n"] == at:
                os.kill(os.getpid(), signum)
            return original()

        monkeypatch.setattr(agent, "update", update_then_signal)

    return arm


class ProductOperands:
    """Records the operands of every operation MKL or oneDNN computes (matrix products,
    convolutions, recurrent layers, factorizations): for each, the address of every tensor
    operand modulo 64, its shape and its strides. Their rounding depends on all three (MKL
    groups a product's additions by its operands' alignment and layout), so two runs whose
    records agree compute those operations alike on any CPU, including the ones whose kernels
    round by alignment. Inside ``with recorder.recording(agent)`` each call is tagged with the
    ``global_step`` at which the iteration that made it began."""

    OPERATIONS = ("mm", "addmm", "bmm", "baddbmm", "addbmm", "mv", "addmv", "dot", "vdot",
                  "matmul", "linear", "convolution", "slow_conv", "thnn", "mkldnn", "linalg",
                  "cholesky", "triangular", "lstm", "gru", "rnn")

    def __init__(self):
        self.calls: list[tuple] = []

    @staticmethod
    def _operands(values):
        import torch

        for value in values:
            if isinstance(value, list | tuple):
                yield from ProductOperands._operands(value)
            elif isinstance(value, torch.Tensor) and value.numel():
                yield value.data_ptr() % 64, tuple(value.shape), value.stride()

    def recording(self, agent):
        from contextlib import contextmanager

        from torch.utils._python_dispatch import TorchDispatchMode

        recorder, phase = self, {"step": agent.global_step}

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                name = func.__name__.split(".")[0].lstrip("_")
                if name.startswith(recorder.OPERATIONS):
                    operands = (*args, *(kwargs or {}).values())
                    recorder.calls.append((phase["step"], name,
                                           tuple(recorder._operands(operands))))
                return func(*args, **(kwargs or {}))

        collect = agent.collect

        def tagged_collect():
            phase["step"] = agent.global_step
            return collect()

        @contextmanager
        def block():
            patched = vars(agent).get("collect")  # an instance's own collect, if patched
            agent.collect = tagged_collect
            try:
                with Mode():
                    yield
            finally:
                if patched is None:
                    del agent.collect
                else:
                    agent.collect = patched

        return block()

    def since(self, step: int) -> list[tuple]:
        """The calls of the iterations that began at ``step`` or later (without the tag)."""
        return [call[1:] for call in self.calls if call[0] >= step]


def assert_same_state(expected, got, where="") -> None:
    """Nested state dicts (tensors, arrays, numbers) equal bit for bit."""
    import torch

    if isinstance(expected, dict):
        assert expected.keys() == got.keys(), where
        for key in expected:
            assert_same_state(expected[key], got[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert len(expected) == len(got), where
        for index, (a, b) in enumerate(zip(expected, got, strict=True)):
            assert_same_state(a, b, f"{where}[{index}]")
    elif isinstance(expected, torch.Tensor):
        torch.testing.assert_close(got, expected, rtol=0, atol=0, equal_nan=True,
                                   msg=lambda text: f"{where}: {text}")
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(got, expected, err_msg=where, strict=True)
    else:
        assert got == expected or (got != got and expected != expected), (where, got, expected)


@pytest.fixture
def interrupt_and_resume(tmp_path, signal_during_update):
    """``run(make, at) -> (full, resumed)``: ``make()`` trained without a break, and again with
    a Ctrl-C during its ``at``-th update, then loaded from the checkpoint and trained to the
    end. Checks that both runs end bit for bit alike: every metrics row (wall-clock SPS aside)
    and every checkpointed module's state (parameters, optimizer states). It also checks the
    cause of the drift this once had: from the resume on, every product, convolution and
    recurrent layer (see :class:`ProductOperands`) gets operands at the same addresses modulo
    64, with the same layouts, as in the uninterrupted run; otherwise the two would round
    alike only on CPUs whose kernels happen to ignore alignment."""
    import signal

    import rlkit
    from rlkit.training.metrics import read_metrics

    def run(make, at, signum=signal.SIGINT):
        full, full_operands = make(), ProductOperands()
        with full_operands.recording(full):
            full.learn(run_dir=tmp_path / "full")
        part = make()
        signal_during_update(part, at, signum)  # Ctrl-C (or SIGTERM) in mid-training
        part.learn(run_dir=tmp_path / "part")
        assert part.global_step < full.global_step
        resumed, resumed_operands = rlkit.load(tmp_path / "part"), ProductOperands()
        with resumed_operands.recording(resumed):
            resumed.learn(run_dir=tmp_path / "part")
        assert resumed.global_step == full.global_step
        rows = [[{k: v for k, v in row.items() if k != "charts/SPS"}
                 for row in read_metrics(tmp_path / name)] for name in ("full", "part")]
        assert rows[0] == rows[1]
        modules = full.modules()
        assert modules.keys() == resumed.modules().keys()
        for name, module in modules.items():
            assert_same_state(module.state_dict(), resumed.modules()[name].state_dict(), name)
        expected, got = full_operands.since(part.global_step), resumed_operands.since(0)
        assert len(got) == len(expected)
        for index, (want, have) in enumerate(zip(expected, got, strict=True)):
            assert have == want, (f"operation {index} after the resume: (address % 64, shape, "
                                  f"strides) of its operands differ from the uninterrupted run")
        return full, resumed

    return run


EXPERTS = Path(__file__).parent / "data" / "experts"


@pytest.fixture(scope="session")
def cartpole_expert() -> Path:
    """An expert for the imitation agents: rlkit's tuned PPO on CartPole-v1 as `rlkit train
    ppo CartPole-v1` wrote it (seed 0, 99,840 steps, 2026-12-07; 500 on every evaluation),
    shipped so that no test depends on how PPO trains on the machine it runs on."""
    return EXPERTS / "ppo_cartpole.pt"


@pytest.fixture(scope="session")
def cartpole_demos(tmp_path_factory, cartpole_expert) -> str:
    """10 deterministic episodes of :func:`cartpole_expert` (all 500 long), as `rlkit record
    EXPERT --episodes 10 --out DIR` writes them."""
    from rlkit.training.record import record

    out = tmp_path_factory.mktemp("demos") / "cartpole"
    recording = record(cartpole_expert, 10, out)
    assert (recording.returns == 500).all()
    return str(out)


@pytest.fixture
def learns(request):
    """``learns(algo, env_id, seed=, bar=, budget=None, **switches) -> agent``: a learning test.

    Trains the shipped tuned config for ``env_id`` (``budget`` may lower its total_timesteps;
    ``switches`` may only be settings that must not change the outcome, such as fast_paths, or
    the torso where a test compares torsos on one entry, with the overrides the entry's
    comment documents for that torso, or a variant's switches as the README documents them)
    and asserts that a deterministic evaluation (``episodes``, default the config's
    eval_episodes) reaches ``bar`` while the same config untrained, evaluated on the same
    episodes, does not: a bar an untrained network passes
    tests nothing. With ``RLKIT_LEARNING_LOG=FILE`` each run appends one JSON line with both
    scores (benchmarks/learning_tests.py collects them over 10 seeds and other CPU rounding).
    """
    import json

    import rlkit
    from rlkit.training.evaluation import evaluate

    def run(algo, env_id, *, seed, bar, budget=None, episodes=None, **switches):
        untrained_agent = rlkit.make(algo, env_id, seed=seed, **switches)
        episodes = episodes or untrained_agent.config.eval_episodes
        untrained = evaluate(untrained_agent, episodes)["mean_return"]
        agent = rlkit.make(algo, env_id, seed=seed, eval_freq=0, **switches)
        agent.learn(budget)
        trained = evaluate(agent, episodes)["mean_return"]
        log = os.environ.get("RLKIT_LEARNING_LOG")
        if log:
            with open(log, "a") as file:
                file.write(json.dumps({
                    "test": request.node.nodeid, "algo": algo, "env": env_id, "seed": seed,
                    "steps": agent.global_step, "bar": bar,
                    "untrained": untrained, "trained": trained,
                    "perturbation": os.environ.get("RLKIT_PERTURBATION", "native"),
                    **switches}) + "\n")
        assert untrained < bar, f"an untrained network already scores {untrained}"
        assert trained >= bar, f"seed {seed}: {trained} < {bar} after {agent.global_step} steps"
        return agent

    return run


@pytest.fixture
def wandb_records():
    """``wandb_records(run_dir) -> [Record, ...]``: the protobuf records of the offline W&B run
    under ``run_dir``, read back from its ``.wandb`` file (LevelDB's log format: 32 KiB
    blocks of records with a 7-byte header, crc32 / length / type, that a record may span)."""
    import struct
    from pathlib import Path

    from wandb.proto import wandb_internal_pb2

    block, header = 32768, 7

    def read(run_dir, timeout=60.0, index=None):
        """Parse the file; W&B's service may still be writing it after finish() returns (seen
        under CI load), so read again until its exit record is there. ``index``: the
        index-th of several offline runs (a resumed run's), in the order they began."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            paths = sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb"))
            if index is not None:
                paths = paths[index:index + 1]
            records = parse(paths[0]) if len(paths) == 1 else []
            if any(r.HasField("exit") for r in records) or time.monotonic() > deadline:
                return records
            time.sleep(0.5)

    def parse(path):
        data = path.read_bytes()
        if data[:4] != b":W&B":
            return []
        records, pos, pending = [], header, b""
        while pos + header <= len(data):
            left = block - pos % block
            if left < header:  # a block's tail too short for a header is padding
                pos += left
                continue
            _, length, kind = struct.unpack("<IHB", data[pos:pos + header])
            chunk, pos = data[pos + header:pos + header + length], pos + header + length
            if kind == 0:
                continue
            pending += chunk
            if kind in (1, 4):  # FULL, or LAST of FIRST/MIDDLE/LAST
                record = wandb_internal_pb2.Record()
                try:
                    record.ParseFromString(pending)
                except Exception:  # a record still being written: read the file again
                    return records
                records.append(record)
                pending = b""
        return records

    return read
