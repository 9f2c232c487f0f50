"""Runs on Ray: an embedded local Ray, or a cluster joined by address.

``rlkit sweep``, ``rlkit tune`` and ``rlkit compare --ray-address`` hand their runs to Ray as
tasks; rlkit schedules nothing itself. Each task asks for ``num_cpus`` (and ``num_gpus`` for a
``device: cuda`` run), trains with one torch thread and writes an ordinary run directory, so
the directory must be on a path every node reaches (the same path on every machine: a shared
file system). A task whose worker process dies (killed, out of memory, a node lost) is retried
by Ray (``max_retries``); the retry resumes from the run's last checkpoint, as ``rlkit train
--resume`` does after a SIGKILL, and the metrics rows logged after that checkpoint are moved
aside and logged again.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rlkit.errors import RlkitError

INSTALL_HINT = "pip install 'rlkit[scale]'"
RETRIES = 3  # Ray's own default for tasks whose worker dies
CONNECT_TIMEOUT_S = 5.0


def require(module: str) -> Any:
    """``ray`` or ``optuna``, or one clear line saying how to install them."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise RlkitError(f"this command needs {module}, which is not installed: "
                         f"{INSTALL_HINT}") from None


def _unreachable(address: str, why: str) -> RlkitError:
    return RlkitError(
        f"cannot reach a Ray cluster at '{address}' ({why}); check that `ray start --head` "
        f"runs on that machine, that the address and port are the ones it printed, and that "
        f"this machine can reach that port (firewall, VPN)")


def _check_reachable(address: str) -> None:
    """Fail in seconds, not after Ray's own minute of retries, when nothing listens there."""
    if address == "auto":
        return  # Ray looks for a cluster started on this machine and says so at once
    parsed = urlparse(address if "://" in address else f"gcs://{address}")
    if parsed.scheme not in ("ray", "gcs") or not parsed.hostname or parsed.port is None:
        raise RlkitError(f"--ray-address expects auto, HOST:PORT or ray://HOST:PORT, "
                         f"got '{address}'")
    try:
        with socket.create_connection((parsed.hostname, parsed.port), CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise _unreachable(address, exc.strerror or type(exc).__name__) from None


def _init(ray: Any, **kwargs: Any) -> None:
    """``ray.init``, keeping a SIGTERM handler the caller installed (``rlkit sweep`` and
    ``rlkit tune`` stop on SIGTERM as on Ctrl-C), which ray.init replaces with its own (with
    Ray 2.60 a SIGTERM then aborts the driver, exit status -6)."""
    previous = signal.getsignal(signal.SIGTERM)
    try:
        ray.init(**kwargs)
    finally:
        if callable(previous) and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


def connect(address: str | None, local_cpus: int) -> str:
    """Start an embedded Ray of ``local_cpus`` CPUs (no address), or join the cluster at
    ``address`` (``auto``, ``HOST:PORT`` or ``ray://HOST:PORT``). A Ray already initialized in
    this process (a test's cluster, a user's own ``ray.init``) is used as it is."""
    ray = require("ray")
    if ray.is_initialized():
        return "the Ray already running in this process"
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False,
             "include_dashboard": False, "configure_logging": True}
    if address is None:
        # "local": a new instance even when this machine runs a cluster (ray start), which a
        # bare ray.init() would join
        _init(ray, address="local", num_cpus=local_cpus, **quiet)
        return f"an embedded Ray on this machine ({local_cpus} CPUs)"
    _check_reachable(address)
    quiet.pop("include_dashboard")  # a cluster's head decides that
    try:
        _init(ray, address=address, **quiet)
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ...
        why = str(exc).splitlines()[0][:160]
        if address.startswith("ray://") and "timeout" in why:
            # a client without the cluster's token waits for an answer that never comes
            why += ("; a cluster with token authentication (Ray's default from 2.59) also "
                    "needs RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (`ray get-auth-token` on the "
                    "head) here")
        raise _unreachable(address, why) from None
    return f"the Ray cluster at {address}"


def shutdown() -> None:
    ray = require("ray")
    if ray.is_initialized():
        ray.shutdown()


def run_tasks(fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]], *,
              max_in_flight: int, num_cpus: float = 1,
              num_gpus: Callable[[tuple[Any, ...]], float] | None = None,
              return_errors: bool = False,
              fresh_process: bool = False) -> Iterator[tuple[int, Any]]:
    """``fn(*call)`` for every call as Ray tasks, at most ``max_in_flight`` at once; yields
    ``(index, result)`` as they finish. ``calls`` is read lazily: a call is built when a slot
    frees (``rlkit tune`` asks Optuna for the next trial then). A task's exception is raised
    here, or yielded as the result with ``return_errors``. ``fresh_process``: every task in a
    worker process of its own (``rlkit compare``: no SB3 run after an rlkit run in one)."""
    ray = require("ray")
    remote = ray.remote(max_calls=1)(fn) if fresh_process else ray.remote(fn)
    pending: dict[Any, int] = {}
    source = enumerate(calls)
    exhausted = False
    while not exhausted or pending:
        while not exhausted and len(pending) < max_in_flight:
            try:
                index, call = next(source)
            except StopIteration:
                exhausted = True
                break
            gpus = num_gpus(call) if num_gpus is not None else 0
            if gpus and ray.cluster_resources().get("GPU", 0) < gpus:
                raise RlkitError("a run with device: cuda asks Ray for a GPU, and this Ray "
                                 "cluster has none (start its nodes on GPU machines, or set "
                                 "device: cpu)")
            ref = remote.options(num_cpus=num_cpus, num_gpus=gpus, max_retries=RETRIES,
                                 retry_exceptions=False).remote(*call)
            pending[ref] = index
        if not pending:
            break
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            index = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                cause = exc.as_instanceof_cause()
                error = (RlkitError(str(cause).splitlines()[0])
                         if isinstance(cause, RlkitError) else cause)
                if not return_errors:
                    raise error from None
                result = error
            yield index, result


def gpus_for(overrides: dict[str, Any]) -> float:
    """A run asks Ray for a GPU when its config puts it on one."""
    return 1.0 if str(overrides.get("device", "cpu")).startswith("cuda") else 0.0


def train_trial(algo: str, env_id: str, overrides: dict[str, Any], run_dir: str,
                total_timesteps: int | None = None, wandb_mode: str = "disabled",
                wandb_args: dict[str, Any] | None = None,
                on_eval: Callable[[int, dict[str, float]], bool] | None = None,
                ) -> dict[str, Any]:
    """One sweep or tune trial as a Ray task: :func:`rlkit.experiments.runs.train_run` in
    ``run_dir`` (or its finished result), the result also in ``result.json``."""
    from rlkit.experiments.runs import read_result, release_stale_lock, train_run, write_result

    path = Path(run_dir)
    finished = read_result(path)
    if finished is not None:
        return finished
    release_stale_lock(path)
    result = train_run(algo, env_id, overrides, path, total_timesteps, wandb_mode=wandb_mode,
                       wandb_args=wandb_args, on_eval=on_eval)
    signal_name = result.pop("interrupted")
    if signal_name:
        raise RlkitError(f"run '{path}' was interrupted ({signal_name}) at step "
                         f"{result['global_step']}")
    return write_result(path, result)
