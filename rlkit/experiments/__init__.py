"""Experiments across runs: ``rlkit compare`` against SB3, sweeps, tuning, Ray, plots.

* :mod:`~rlkit.experiments.runs`: one rlkit run in its own directory (resumed from its
  checkpoint, its ``result.json``), as every experiment here runs it;
* :mod:`~rlkit.experiments.compare` and :mod:`~rlkit.experiments.sb3` (rlkit's config key by
  key as SB3's arguments); :mod:`~rlkit.experiments.sweep` (grids),
  :mod:`~rlkit.experiments.tune` (Optuna), :mod:`~rlkit.experiments.scale` (Ray);
* :mod:`~rlkit.experiments.stats` (bootstrap intervals, IQM), :mod:`~rlkit.experiments.plots`.

May import: ``rlkit.training`` (``make``, ``load``, the loop) and everything below it; only
the CLI and ``rlkit``'s ``__init__`` sit above.
"""
