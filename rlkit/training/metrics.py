"""Run logging: ``metrics.jsonl`` in the run directory and the same rows to W&B.

W&B defaults to offline mode unless credentials are present, so a run never needs an account
or a network; ``wandb_mode`` (CLI ``--wandb-mode``) overrides, and ``WANDB_MODE`` is honoured.
W&B trouble (init fails, the network or the offline directory gives out) never stops training:
one warning line, and the run goes on with ``metrics.jsonl`` alone. A failed write of
``metrics.jsonl`` itself (a full disk) stops it with one error line.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

WANDB_MODES = ("online", "offline", "disabled")


def default_wandb_mode() -> str:
    """WANDB_MODE if set, else online with credentials and offline without."""
    env = os.environ.get("WANDB_MODE")
    if env in WANDB_MODES:
        return env
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    netrc = Path.home() / ".netrc"
    if netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore"):
        return "online"
    return "offline"


class RunLogger:
    """Appends one JSON object per log step; mirrors it to W&B unless disabled."""

    def __init__(
        self,
        run_dir: Path | None,
        config: dict[str, Any],
        algo: str,
        env_id: str,
        wandb_mode: str = "disabled",
        wandb_args: dict[str, Any] | None = None,
    ) -> None:
        self.file = None
        self.wandb_run = None
        self.path = run_dir / "metrics.jsonl" if run_dir is not None else None
        if run_dir is not None:
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
                self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            except OSError as exc:
                raise _write_error(exc, self.path) from None
        if wandb_mode != "disabled":
            self.wandb_run = self._wandb("start", lambda: self._init_wandb(
                run_dir, config, algo, env_id, wandb_mode, wandb_args or {}))

    def _wandb(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()``; if W&B fails, one warning line and no more W&B for this run."""
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - whatever W&B raises, training goes on
            print(f"warning: W&B failed to {what} ({type(exc).__name__}: {exc}); training "
                  f"goes on, logging to metrics.jsonl only", file=sys.stderr)
            run, self.wandb_run = self.wandb_run, None
            if run is not None and what != "finish":
                try:
                    run.finish(exit_code=1)
                except Exception:  # noqa: BLE001, S110 - it is already broken
                    pass
            return None

    @staticmethod
    def _init_wandb(run_dir, config, algo, env_id, mode, overrides):
        """A W&B run grouped as ``<algo>-<env>`` (``overrides`` may replace group, name,
        tags, job_type: ``rlkit compare`` puts both libraries' runs in one group) whose every
        metric is plotted against ``global_step``."""
        import wandb

        run_id = None
        id_file = run_dir / "wandb_id.txt" if run_dir is not None else None
        if id_file is not None and id_file.is_file():
            run_id = id_file.read_text().strip()  # --resume continues the same W&B run
        args = dict(group=f"{algo}-{env_id}", job_type=algo, tags=[algo, env_id],
                    name=run_dir.name if run_dir is not None else None)
        run = wandb.init(
            project="rlkit",
            **{**args, **overrides},
            id=run_id,
            resume="allow",
            config={"algo": algo, "env_id": env_id, **config},
            dir=str(run_dir) if run_dir is not None else None,
            mode=mode,
            settings=wandb.Settings(console="off", silent=True),
        )
        run.define_metric("global_step")
        run.define_metric("*", step_metric="global_step")  # every panel's x-axis
        if id_file is not None:
            id_file.write_text(run.id)
        return run

    def log(self, row: dict[str, Any]) -> None:
        if self.file is not None:
            try:
                self.file.write(json.dumps(row) + "\n")
                self.file.flush()
            except OSError as exc:

                self._drop_file()
                raise _write_error(exc, self.path) from None
        if self.wandb_run is not None:
            run = self.wandb_run
            self._wandb("log", lambda: run.log(row, step=row["global_step"]))

    def summary(self, values: dict[str, Any]) -> None:
        """Final figures (eval, wall time, SPS) into the W&B run's summary."""
        if self.wandb_run is not None:
            run = self.wandb_run
            self._wandb("write the summary", lambda: run.summary.update(values))

    def log_file(self, path: Path, name: str, kind: str = "model") -> None:
        """``path`` as a W&B artifact (the final checkpoint: a model artifact)."""
        if self.wandb_run is not None and path.is_file():
            import wandb

            def log() -> None:
                artifact = wandb.Artifact(name, type=kind)
                artifact.add_file(str(path))
                self.wandb_run.log_artifact(artifact)

            self._wandb("log an artifact", log)

    def log_videos(self, step: int, paths: list[Path]) -> None:
        """mp4 files of evaluation episodes as W&B videos at ``step``."""
        if self.wandb_run is not None and paths:
            import wandb

            self._wandb("log a video", lambda: self.wandb_run.log(
                {"eval/video": [wandb.Video(str(p), format="mp4") for p in paths]}, step=step))

    def log_images(self, paths: list[Path]) -> None:
        """PNG files as W&B images, one key per file name."""
        if self.wandb_run is not None:
            import wandb

            self._wandb("log images", lambda: self.wandb_run.log(
                {p.stem: wandb.Image(str(p)) for p in paths}))

    def _drop_file(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass  # the write that failed already said why
        self.file = None

    def close(self) -> None:
        if self.file is not None:
            try:
                self.file.close()
            finally:
                self.file = None
        if self.wandb_run is not None:
            run = self.wandb_run
            self._wandb("finish", run.finish)
            self.wandb_run = None


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl``."""
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_error(exc: OSError, path: Path | None) -> Exception:
    # imported here, not at the top: the CLI imports this module for its options, and
    # faults brings in torch (a second of start-up for `rlkit --help`)
    from rlkit.training import faults

    return faults.write_error(exc, "metrics file", path)
