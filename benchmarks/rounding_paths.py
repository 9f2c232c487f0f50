"""Which perturbations of the CPU's arithmetic change rlkit's numbers at all.

    python benchmarks/rounding_paths.py [--perturbations native,ONEDNN_MAX_CPU_ISA=AVX2,...]

A user's CPU may take other kernels than this machine's: torch's (ATEN_CPU_CAPABILITY), MKL's
(MKL_CBWR), oneDNN's (ONEDNN_MAX_CPU_ISA). Each perturbation runs in a fresh process (they
are read when the libraries load) and trains a few short probes, one per torso family
(an mlp, an LSTM, a GRU, a CNN, Thompson DQN's Bayesian linear head); the table gives each
probe's largest parameter difference from the native run (0: bit-identical, the perturbation
does not touch that probe's arithmetic here). benchmarks/learning_tests.py then says whether
the differences matter for learning.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

PROBES = {
    "ppo mlp": ("ppo", "CartPole-v1", dict(n_envs=4, n_steps=64, batch_size=64, n_epochs=2), 2048),
    "ppo lstm": ("ppo", "rlkit/Recall-v0", {}, 2048),
    "ppo gru": ("ppo", "rlkit/CartPoleNoVel-v0", dict(approximator={"type": "gru"}), 2048),
    "ppo cnn": ("ppo", "rlkit/PixelGrid-v0", {}, 1024),
    "dqn bayes_linear": ("dqn", "CartPole-v1", dict(q_head="bayes_linear", exploration="thompson",
                                                    dueling=False, learning_starts=500), 1500),
}
DEFAULT = ("native,ATEN_CPU_CAPABILITY=default,ATEN_CPU_CAPABILITY=avx2,ONEDNN_MAX_CPU_ISA=AVX2,"
           "MKL_CBWR=COMPATIBLE,MKL_CBWR=AVX2")


def train_probes() -> None:
    """In the child process: each probe's parameters, flattened, as JSON on stdout."""
    import torch

    import rlkit

    torch.set_num_threads(1)
    out = {}
    for name, (algo, env_id, options, steps) in PROBES.items():
        agent = rlkit.make(algo, env_id, seed=0, eval_freq=0, **options)
        agent.learn(steps)
        tensors = [t.detach().double().flatten() for m in agent.modules().values()
                   if isinstance(m, torch.nn.Module) for t in m.state_dict().values()
                   if t.is_floating_point()]
        out[name] = torch.cat(tensors).tolist()
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perturbations", default=DEFAULT)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return train_probes()
    sys.path.insert(0, os.path.dirname(__file__))
    from learning_tests import perturbation_env

    results = {}
    for perturbation in args.perturbations.split(","):
        env = dict(os.environ, WANDB_MODE="disabled", **perturbation_env(perturbation))
        done = subprocess.run([sys.executable, __file__, "--child"], env=env, check=True,
                              capture_output=True, text=True)
        results[perturbation] = json.loads(done.stdout.splitlines()[-1])
        print(f"== {perturbation}: done", file=sys.stderr, flush=True)
    native = results[next(iter(results))]
    names = list(PROBES)
    print("| perturbation | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for perturbation, params in results.items():
        cells = [f"{np.max(np.abs(np.subtract(params[n], native[n]))):.2g}" for n in names]
        print(f"| {perturbation} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
