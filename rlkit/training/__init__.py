"""A run's life: the agent base class, the training loop, evaluation, checkpoints, faults,
metrics and env construction.

* :mod:`~rlkit.training.agent`: ``Agent``, ``PolicyAgent`` (acts by an actor-critic's pi) and
  ``RolloutAgent`` (learns from its rollouts), what every file in ``agents/`` subclasses
  (acting, predict, save, ``learn``), and :mod:`~rlkit.training.trainable`, the
  part of it the loop and the evaluation use;
* :mod:`~rlkit.training.loop`: ``train``, one function per phase of a run;
* :mod:`~rlkit.training.evaluation` (deterministic episodes, video),
  :mod:`~rlkit.training.checkpoint` (the file format), :mod:`~rlkit.training.faults`
  (divergence, env failures, locks), :mod:`~rlkit.training.metrics` (metrics.jsonl, W&B),
  :mod:`~rlkit.training.environment` (env ids, vector envs, seeding);
* :mod:`~rlkit.training.registry`: agents by name, ``make`` and ``load``;
  :mod:`~rlkit.training.env_check`: ``rlkit check-env``; :mod:`~rlkit.training.record`:
  ``rlkit record`` (a trained run's episodes as demonstrations).

May import: ``rlkit.approximators``, ``rlkit.core``, ``rlkit.config``, ``rlkit.errors``,
``rlkit.fast`` and itself. Agents are found by name (the registry imports their modules when
asked), so nothing here imports ``rlkit.agents``; experiments and the CLI sit above.
"""
