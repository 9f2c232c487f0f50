"""Learning curves of run directories: one panel per env, one line per (library, algo) group,
the mean over its runs with a 95 % bootstrap band (``rlkit plot`` and ``rlkit compare``)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from rlkit.errors import RlkitError


def run_identity(run_dir: Path) -> tuple[str, str, str]:
    """(library, algo, env_id) of a run directory: ``result.json`` of a comparison's run, else
    the ``config.yaml`` every rlkit run writes."""
    import json

    result = run_dir / "result.json"
    if result.is_file():
        data = json.loads(result.read_text())
        return data["library"], data["algo"], data["env_id"]
    config = run_dir / "config.yaml"
    if not config.is_file():
        raise RlkitError(f"'{run_dir}' is not a run directory (no config.yaml or result.json)")
    data = yaml.safe_load(config.read_text()) or {}
    return "rlkit", str(data.get("algo", "?")), str(data.get("env_id", "?"))


def curve(run_dir: Path, metric: str = "eval/mean_return"
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(env steps, wall seconds, values) of the rows of ``metric`` in a run's metrics.jsonl.
    Wall time is global_step / SPS, the SPS of the row or of the last row that had one (NaN
    before the first)."""
    from rlkit.training.metrics import read_metrics

    steps, seconds, values, sps = [], [], [], None
    for row in read_metrics(run_dir):
        sps = row.get("charts/SPS", sps)
        if metric in row:
            steps.append(row["global_step"])
            seconds.append(row["global_step"] / sps if sps else float("nan"))
            values.append(row[metric])
    return np.array(steps, dtype=float), np.array(seconds), np.array(values, dtype=float)


def plot_runs(run_dirs: list[Path], path: Path, metric: str = "eval/mean_return",
              x: str = "steps") -> Path:
    """Plot ``metric`` of ``run_dirs`` against env steps or wall time (``x``: steps | time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlkit.experiments.stats import bootstrap_ci

    panels: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for run_dir in run_dirs:
        library, algo, env_id = run_identity(Path(run_dir))
        panels[env_id][f"{library} {algo}"].append(Path(run_dir))
    figure, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (env_id, groups) in zip(axes[0], panels.items(), strict=True):
        for label, dirs in groups.items():
            curves = [curve(d, metric) for d in dirs]
            length = min(len(c[2]) for c in curves)
            if length == 0:
                continue
            xs = np.mean([c[0 if x == "steps" else 1][:length] for c in curves], axis=0)
            ys = np.array([c[2][:length] for c in curves])
            ax.plot(xs, ys.mean(0), label=f"{label} ({len(dirs)})", marker="o", markersize=3)
            if len(dirs) > 1:
                bands = np.array([bootstrap_ci(ys[:, i]) for i in range(length)])
                ax.fill_between(xs, bands[:, 0], bands[:, 1], alpha=0.25)
        ax.set_title(env_id)
        ax.set_xlabel("env steps" if x == "steps" else "wall time (s)")
        ax.set_ylabel(metric)
        ax.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
