"""The GAN of the notes as a function approximator: a discriminator on any observation and
action spaces, its losses with a gradient penalty, the rewards that imitation reads from it,
and a small generator for toy distributions.

Goodfellow et al. (2014) play D against G on the value

    V(D, G) = E_{x ~ data}[log D(x)] + E_{z ~ N(0, I)}[log(1 - D(G(z)))],

D maximizing and G minimizing. Here D(x) = sigmoid(l(x)) and every loss is computed from the
logit l, never from D, so that log D and log(1 - D) stay finite however sure D is.

GAIL (Ho & Ermon, 2016) and AIRL (Fu et al., 2018) take the expert's (s, a) pairs as data and
the agent's as G's samples; the agent is trained on a reward read from D (:func:`gail_reward`,
:func:`airl_reward`). :class:`Discriminator` therefore reads the same spaces as the agents:
its input is the Dict ``{"obs": observation_space, "action": action_space}`` (or the
observation alone, or with the next observation), packed into rows of bytes like every
structured observation (:mod:`rlkit.core.observations`) and read by the torso of the
``approximator`` config, so a Discrete action arrives one-hot, a Box action as its vector and
frames through the CNN.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rlkit.approximators import build_torso
from rlkit.approximators.base import ACTIVATIONS, orthogonal_init
from rlkit.approximators.linear import LinearFeatures
from rlkit.approximators.mlp import MLP
from rlkit.config import ApproximatorConfig
from rlkit.core.aligned import to_tensor
from rlkit.core.observations import PackedObservations, network_observation_space
from rlkit.errors import ConfigError

PARTS = ("obs", "action", "next_obs")
"""What a discriminator may read of a transition (s, a, s'), in this order."""

Penalty = Literal["wgan_gp", "r1"]


# ----------------------------------------------------------------------------- losses


def discriminator_loss(expert_logits: torch.Tensor,
                       generated_logits: torch.Tensor) -> torch.Tensor:
    """-V(D, G) for D's step, expert labelled 1 and generated 0:

        L_D = -E_expert[log D(x)] - E_generated[log(1 - D(x))]
            = E_expert[softplus(-l(x))] + E_generated[softplus(l(x))]

    (binary cross-entropy on each half, from the logits). The two expectations are summed, as
    in Goodfellow et al.'s V, so that a penalty weight means what it means in the papers
    (WGAN-GP and R1 add their penalty to a sum of two expectations too); each is a mean over
    its own batch, so unequal batches weigh alike. At l = 0 everywhere L_D = 2 log 2.
    """
    expert = F.binary_cross_entropy_with_logits(expert_logits, torch.ones_like(expert_logits))
    generated = F.binary_cross_entropy_with_logits(generated_logits,
                                                   torch.zeros_like(generated_logits))
    return expert + generated


def generator_loss(generated_logits: torch.Tensor) -> torch.Tensor:
    """G's non-saturating loss (Goodfellow et al., 2014, section 3):

        L_G = -E_z[log D(G(z))] = E_z[softplus(-l(G(z)))]

    in place of minimizing E[log(1 - D(G(z)))], whose gradient vanishes while D rejects G's
    samples confidently (early in training)."""
    return F.softplus(-generated_logits).mean()


def input_gradients(logits_of: Callable[[torch.Tensor], torch.Tensor],
                    x: torch.Tensor) -> torch.Tensor:
    """grad_x l(x) of each row of x (N, d) -> (N, d), kept in the graph (``create_graph``),
    so that a penalty on it trains D's parameters."""
    x = x.detach().requires_grad_(True)
    logits = logits_of(x)
    (gradients,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return gradients


def wgan_gp_penalty(logits_of: Callable[[torch.Tensor], torch.Tensor],
                    expert_x: torch.Tensor, generated_x: torch.Tensor,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP's two-sided penalty (Gulrajani et al., 2017, eq. 3), on the logit:

        E_{x_hat}[(||grad_x l(x_hat)||_2 - 1)^2],   x_hat = eps x_e + (1 - eps) x_g,
        eps ~ U[0, 1] per row,

    on points between expert and generated inputs (row i of each; the first min(N_e, N_g)
    rows). The logit is WGAN's critic here, as in the GAIL discriminators that take this
    penalty (Kostrikov et al., 2019, DAC). Inputs are floats: a discriminator's
    :meth:`Discriminator.inputs`, where ids are one-hot already, so x_hat is a point on the
    segment between two one-hot codes rather than a mix of packed bytes."""
    n = min(len(expert_x), len(generated_x))
    expert_x, generated_x = expert_x[:n].detach(), generated_x[:n].detach()
    # drawn on the generator's device, then moved: torch.rand needs the two to agree
    eps = torch.rand(n, *([1] * (expert_x.dim() - 1)), generator=generator,
                     device=expert_x.device if generator is None else generator.device
                     ).to(expert_x.device)
    x_hat = eps * expert_x + (1.0 - eps) * generated_x
    norms = input_gradients(logits_of, x_hat).flatten(1).norm(dim=1)
    return (norms - 1.0).pow(2).mean()


def r1_penalty(logits_of: Callable[[torch.Tensor], torch.Tensor],
               expert_x: torch.Tensor) -> torch.Tensor:
    """The zero-centred R1 penalty (Mescheder, Geiger & Nowozin, 2018, eq. 9) without its
    weight gamma:

        R1 = 1/2 E_expert[||grad_x l(x)||_2^2]

    on the data (expert) inputs only; with weight gamma the loss adds gamma R1, their
    (gamma / 2) E[...]."""
    return 0.5 * input_gradients(logits_of, expert_x).flatten(1).pow(2).sum(1).mean()


def compute_penalty(logits_of: Callable[[torch.Tensor], torch.Tensor],
                    expert_x: torch.Tensor, generated_x: torch.Tensor,
                    penalty: Penalty = "r1",
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """The penalty named by ``penalty``, unweighted: :func:`wgan_gp_penalty` or
    :func:`r1_penalty`."""
    if penalty == "wgan_gp":
        return wgan_gp_penalty(logits_of, expert_x, generated_x, generator)
    if penalty == "r1":
        return r1_penalty(logits_of, expert_x)
    raise ConfigError(f"unknown gradient penalty '{penalty}'; choose from: r1, wgan_gp")


# ----------------------------------------------------------------------------- rewards


def gail_reward(logits: torch.Tensor) -> torch.Tensor:
    """GAIL's reward r = -log(1 - D(s, a)) = softplus(l(s, a)): positive, large where D takes
    the pair for the expert's (Ho & Ermon, 2016, with D's labels as here: expert 1)."""
    return F.softplus(logits)


def airl_reward(logits: torch.Tensor) -> torch.Tensor:
    """AIRL's reward r = log D - log(1 - D) = l(s, a, s') (Fu et al., 2018): the logit itself,
    which for AIRL's D = exp f / (exp f + pi(a|s)) is f - log pi(a|s)."""
    return logits


# ----------------------------------------------------------------------------- discriminator


class DiscriminatorLoss(NamedTuple):
    """One discriminator step's loss and what to log beside it."""

    loss: torch.Tensor
    """L_D + weight * penalty, to minimize"""
    bce: torch.Tensor
    """L_D alone (:func:`discriminator_loss`), detached"""
    penalty: torch.Tensor
    """the unweighted penalty (0 without one), detached"""
    expert_accuracy: torch.Tensor
    """the fraction of expert rows with D > 1/2"""
    generated_accuracy: torch.Tensor
    """the fraction of generated rows with D < 1/2"""


class Discriminator(nn.Module):
    """D(x) = sigmoid(l(x)), l = a linear logit on the torso of ``config``; packed rows
    (N, nbytes) uint8 -> logits (N,).

    x is the Dict of the ``parts`` of a transition, in that order: ``obs`` (s), ``action`` (a),
    ``next_obs`` (s'); GAIL reads (s, a), a state-only AIRL term (s) or (s, s'). Each part is
    packed as the core packs observations and read through the multi-input encoder: Discrete
    and MultiDiscrete one-hot, MultiBinary and Box as floats, frames through a CNN (the
    config's own with ``type: cnn``). :meth:`pack` builds the rows from a batch.

    The torso is an ``mlp``, a ``cnn`` (an mlp over the encoder, whose frames go through the
    config's convolutions) or ``linear`` with raw features (logistic regression on the
    encoding). Memory torsos (lstm, gru, rnn, attention) are refused: D scores single
    transitions, sampled from the expert's episodes and the agent's apart from their
    episodes, so there is no sequence to unroll a memory over; the autoencoder and vae too, as
    their reconstruction loss would need a place in D's loss.

    Two halves, so that the gradient penalty is taken w.r.t. floats: :meth:`inputs` (rows ->
    x, (N, d) float32: one-hot codes, vectors, frames as pixels scaled to [0, 1], flattened)
    and :meth:`logits_from_inputs` (x -> l(x)); ``forward`` is the two in turn. A generator
    whose samples must get gradients from D (the 2-D toy) feeds its floats to the second half.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space | None = None,
                 config: ApproximatorConfig | None = None,
                 parts: Sequence[str] = ("obs", "action")) -> None:
        super().__init__()
        config = config if config is not None else ApproximatorConfig()
        self.parts = tuple(parts)
        if (not self.parts or len(set(self.parts)) != len(self.parts)
                or any(part not in PARTS for part in self.parts)):
            raise ConfigError(f"a discriminator reads some of {', '.join(PARTS)}, each once; "
                              f"got {list(self.parts)}")
        if "action" in self.parts and action_space is None:
            raise ConfigError("a discriminator that reads actions needs the action space")
        spaces = {"obs": observation_space, "action": action_space,
                  "next_obs": observation_space}
        # a sequence of pairs keeps the order (a mapping would be sorted by key)
        self.space = PackedObservations(gym.spaces.Dict(
            [(part, spaces[part]) for part in self.parts]))
        # Where each part's bytes lie in a row. A part's own packing lays its entries at
        # multiples of 8 bytes from 0, and so does the Dict's, so the part's packed row is a
        # slice of the Dict's row: checked here, as pack() relies on it.
        self._layout: list[tuple[str, PackedObservations, bool, int]] = []
        for part in self.parts:
            own = PackedObservations(spaces[part])
            mine = [e for e in self.space.entries if e.path[0] == part]
            start = mine[0].offset
            if [(e.offset - start, e.nbytes, e.kind) for e in mine] != [
                    (e.offset, e.nbytes, e.kind) for e in own.entries]:
                raise AssertionError(f"packed layout of '{part}' differs inside the Dict")
            # the core already stores a structured observation as packed rows
            as_rows = part != "action" and isinstance(network_observation_space(spaces[part]),
                                                      PackedObservations)
            self._layout.append((part, own, as_rows, start))

        if config.type in ("lstm", "gru", "rnn", "attention"):
            raise ConfigError(f"the discriminator scores single transitions and cannot unroll "
                              f"a memory torso ('{config.type}'); use mlp, cnn or linear")
        if config.type in ("autoencoder", "vae"):
            raise ConfigError(f"the discriminator has no place for an {config.type}'s "
                              f"reconstruction loss; use mlp, cnn or linear")
        self.torso = build_torso(self.space, config)
        if not isinstance(self.torso, (MLP, LinearFeatures)) or self.torso.multi_input is None:
            raise ConfigError(f"approximator '{config.type}' cannot be a discriminator's torso")
        self.encoder = self.torso.multi_input
        self.in_dim = self.encoder.in_dim
        self.logit = orthogonal_init(nn.Linear(self.torso.out_dim, 1), gain=1.0)

    def inputs(self, rows: torch.Tensor) -> torch.Tensor:
        """Packed rows (N, nbytes) uint8 -> x (N, in_dim) float32, the entries side by side:
        one-hot ids (one code per MultiDiscrete component), Box and MultiBinary values, frames
        as the CNN reads them ((C, H, W), uint8 scaled to [0, 1]) flattened (the multi-input
        encoder's codes)."""
        return self.encoder.inputs(rows)

    def logits_from_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, in_dim) float, as :meth:`inputs` gives it -> logits l(x) (N,): frames through
        the CNN, the encoding through the torso's layers, then the logit."""
        h = self.encoder.encode_inputs(x)
        if isinstance(self.torso, MLP):
            h = self.torso.encode_inputs(h)
        return self.logit(h).squeeze(-1)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """Packed rows (N, nbytes) -> logits l (N,); D = sigmoid(l)."""
        return self.logits_from_inputs(self.inputs(rows))

    def pack(self, obs: Any, actions: Any = None, next_obs: Any = None,
             device: torch.device | str | None = None) -> torch.Tensor:
        """A batch of N transitions -> rows (N, nbytes) uint8 on ``device`` (the
        discriminator's by default).

        ``obs`` and ``next_obs`` as the core stores them (numpy or torch): a Box's values
        (N, *shape), a Discrete's ids (N,), a structured observation's packed rows
        (N, nbytes). ``actions`` as the env takes them (N, *shape): Discrete ids with the
        space's ``start``, a Box action clipped into its bounds; a rollout buffer's actions
        go through ``rlkit.core.rollout.to_env_actions`` first, as the expert's did before
        the env saw them (else D tells the two apart by the unclipped Gaussian samples).
        """
        given = {"obs": obs, "action": actions, "next_obs": next_obs}
        chunks = {}
        for part, own, as_rows, _ in self._layout:
            value = given[part]
            if value is None:
                raise ValueError(f"this discriminator reads '{part}'; pass it to pack()")
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if as_rows:
                if value.dtype != np.uint8 or value.shape[-1:] != own.shape:
                    raise ValueError(f"'{part}' must be packed rows (N, {own.shape[0]}) uint8 "
                                     f"as the core stores them, got {value.dtype} "
                                     f"{value.shape}")
                chunks[part] = value.reshape(-1, own.shape[0])
            else:
                chunks[part] = own.pack(value).reshape(-1, own.shape[0])
        n = len(chunks[self.parts[0]])
        if any(len(chunk) != n for chunk in chunks.values()):
            raise ValueError(f"the parts of a batch differ in length: "
                             f"{ {part: len(chunk) for part, chunk in chunks.items()} }")
        rows = np.zeros((n, self.space.shape[0]), dtype=np.uint8)
        for part, own, _, start in self._layout:
            rows[:, start:start + own.shape[0]] = chunks[part]
        if device is None:
            device = self.logit.weight.device
        return to_tensor(rows, device)

    def loss(self, expert_rows: torch.Tensor, generated_rows: torch.Tensor,
             gradient_penalty: float = 0.0, penalty: Penalty = "r1",
             generator: torch.Generator | None = None) -> DiscriminatorLoss:
        """One step's loss on packed rows (:meth:`pack`): :meth:`loss_from_inputs` of their
        :meth:`inputs`."""
        return self.loss_from_inputs(self.inputs(expert_rows), self.inputs(generated_rows),
                                     gradient_penalty, penalty, generator)

    def loss_from_inputs(self, expert_x: torch.Tensor, generated_x: torch.Tensor,
                         gradient_penalty: float = 0.0, penalty: Penalty = "r1",
                         generator: torch.Generator | None = None) -> DiscriminatorLoss:
        """:func:`discriminator_loss` on float inputs x (:meth:`inputs`), plus
        ``gradient_penalty`` times the penalty when that weight is > 0: ``r1`` on the
        expert's inputs (:func:`r1_penalty`) or ``wgan_gp`` between expert and generated
        (:func:`wgan_gp_penalty`, whose interpolation weights ``generator`` draws).

        R1 is the default: on the 2-D toy (tests/approximators/test_gan.py) the generator
        converged on all ten seeds measured with R1 at weight 1, while WGAN-GP's penalty, which
        holds the logit's slope at 1 even where the two distributions meet, kept it moving
        (weights 0.1, 1 and 10 all failed on several seeds), as Mescheder et al. (2018) find
        for penalties not centred at zero."""
        expert_logits = self.logits_from_inputs(expert_x)
        generated_logits = self.logits_from_inputs(generated_x)
        bce = discriminator_loss(expert_logits, generated_logits)
        loss, value = bce, torch.zeros((), device=bce.device)
        if gradient_penalty > 0:
            value = compute_penalty(self.logits_from_inputs, expert_x, generated_x, penalty,
                                    generator)
            loss = bce + gradient_penalty * value
        return DiscriminatorLoss(
            loss, bce.detach(), value.detach(),
            (expert_logits.detach() > 0).float().mean(),
            (generated_logits.detach() < 0).float().mean())


# ----------------------------------------------------------------------------- generator


class Generator(nn.Module):
    """G: z ~ N(0, I_noise_dim) -> G(z) in R^out_dim, an MLP (the toy's generator)."""

    def __init__(self, noise_dim: int, out_dim: int, hidden_sizes: Sequence[int] = (64, 64),
                 activation: str = "relu") -> None:
        super().__init__()
        self.noise_dim = noise_dim
        layers: list[nn.Module] = []
        width = noise_dim
        for size in hidden_sizes:
            layers += [orthogonal_init(nn.Linear(width, size)), ACTIVATIONS[activation]()]
            width = size
        layers.append(orthogonal_init(nn.Linear(width, out_dim), gain=1.0))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, noise_dim) -> samples (N, out_dim)."""
        return self.net(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples G(z), z drawn from ``generator`` (torch's global one if None)."""
        device = self.net[0].weight.device
        z = torch.randn(n, self.noise_dim, generator=generator,
                        device=device if generator is None else generator.device).to(device)
        return self(z)
