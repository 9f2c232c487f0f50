"""The shared core every agent collects and learns with: the card's rollout/buffer layer.

* :mod:`~rlkit.core.rollout`: the env runner (steps a vector env, autoreset, the true final
  observation of a truncated episode) and ``collect_rollout`` (n-step rollouts with GAE);
* :mod:`~rlkit.core.buffers`: preallocated ``(n_steps, n_envs, ...)`` rollout, episode and
  replay buffers, their batches, advantages and returns;
* :mod:`~rlkit.core.nstep`, :mod:`~rlkit.core.prioritized`, :mod:`~rlkit.core.sumtree`: n-step
  targets and prioritized replay for DQN; :mod:`~rlkit.core.frame_replay`: replay that stores
  each frame of stacked-frame observations once (1M Atari transitions in 7.6 GB);
* :mod:`~rlkit.core.normalize` (observations, rewards), :mod:`~rlkit.core.optim` (one flat
  optimizer step), :mod:`~rlkit.core.env_state` (an env's state in a checkpoint),
  :mod:`~rlkit.core.env_faults` (what the runner raises for a failing env),
  :mod:`~rlkit.core.modes` (eval mode for acting), :mod:`~rlkit.core.aligned` (tensors from
  arrays), :mod:`~rlkit.core.observations` (which observations are frames; Dict, Tuple,
  MultiDiscrete and MultiBinary observations packed into one row of bytes each);
* :mod:`~rlkit.core.demonstrations`: recorded episodes as Minari datasets, and any Minari
  dataset as flat arrays over its transitions (what imitation learns from).

May import: ``rlkit.config``, ``rlkit.errors``, ``rlkit.fast`` and itself; never the models,
training, agents or experiments above it (``tests/test_layers.py`` holds this).
"""
