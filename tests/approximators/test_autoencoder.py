"""Autoencoder and VAE torsos: the KL term and the reparameterized sample by hand, decoders that
give back the encoder's input shape, the auxiliary loss, its switches through PPO's and A2C's
own update(), the agents that refuse it, --reconstructions, and a learning test."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.approximators import build_torso
from rlkit.approximators.autoencoder import gaussian_kl, reparameterize
from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError


def test_gaussian_kl_by_hand_and_against_torch():
    """mu = (1, 0), sigma^2 = (1, 4): 1/2 [(1 + 1 - 1 - 0) + (0 + 4 - 1 - log 4)]
    = 1/2 (4 - log 4) = 1.3069."""
    mean = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    log_var = torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])
    kl = gaussian_kl(mean, log_var)
    torch.testing.assert_close(kl, torch.tensor([0.5 * (4 - math.log(4.0)), 0.0]))
    q = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(q, p).sum(-1))


def test_reparameterized_sample_has_the_posterior_mean_and_variance_and_carries_gradients():
    mean = torch.tensor([2.0, -1.0], requires_grad=True)
    log_var = torch.tensor([math.log(0.25), math.log(9.0)], requires_grad=True)
    z = reparameterize(mean.expand(200_000, 2), log_var.expand(200_000, 2),
                       torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), torch.tensor([2.0, -1.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0), torch.tensor([0.25, 9.0]), atol=0.0, rtol=0.02)
    z.sum().backward()  # dz/dmu = 1 per sample; dz/dlog_var = sigma eps / 2, eps averaging 0
    torch.testing.assert_close(mean.grad, torch.tensor([200_000.0, 200_000.0]))
    assert abs(log_var.grad).max() < 0.01 * 200_000


@pytest.mark.parametrize("space", [
    gym.spaces.Box(0, 255, (4, 84, 84), np.uint8),  # Atari: Nature stack, CHW
    gym.spaces.Box(0, 1, (10, 10, 4), bool),  # MinAtar: small stack, HWC
    gym.spaces.Box(0, 255, (20, 20, 3), np.uint8),  # PixelGrid
    gym.spaces.Box(-1, 1, (6,), np.float32),  # vectors: an MLP
])
@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_decoder_gives_back_the_encoder_input_shape(space, kind):
    torso = build_torso(space, ApproximatorConfig(type=kind, latent_dim=8))
    obs = torch.as_tensor(np.stack([space.sample() for _ in range(3)]))
    features = torso(obs)
    assert features.shape == (3, 8) and torso.out_dim == 8
    inputs, outputs = torso.reconstruct(obs)
    assert outputs.shape == inputs.shape
    if obs.dtype == torch.uint8:  # the target is the scaled frame, channels first
        assert inputs.max() <= 1.0 and inputs.shape[1] in (3, 4)


def test_auxiliary_loss_is_the_reconstruction_error_plus_beta_kl():
    space = gym.spaces.Box(-1, 1, (5,), np.float32)
    obs = torch.as_tensor(np.stack([space.sample() for _ in range(7)]))
    autoencoder = build_torso(space, ApproximatorConfig(type="autoencoder", latent_dim=3))
    autoencoder(obs)
    aux = autoencoder.auxiliary_loss()
    by_hand = (autoencoder.decoder(autoencoder.code(autoencoder.encoder(obs))) - obs).pow(2)
    torch.testing.assert_close(aux.loss, by_hand.sum(1).mean())
    assert aux.kl == 0

    vae = build_torso(space, ApproximatorConfig(type="vae", latent_dim=3, beta=0.5))
    torch.manual_seed(3)
    vae(obs)
    aux = vae.auxiliary_loss()
    torch.manual_seed(3)
    _, mean, log_var = vae.encode(obs)
    z = reparameterize(mean, log_var)
    reconstruction = (vae.decoder(z) - obs).pow(2).sum(1).mean()
    kl = gaussian_kl(mean, log_var).mean()
    torch.testing.assert_close(aux.loss, reconstruction + 0.5 * kl)
    torch.testing.assert_close(aux.kl, kl)
    with pytest.raises(RuntimeError, match="forward pass"):
        vae.auxiliary_loss()  # each forward pass is used once


def test_acting_keeps_nothing_for_the_auxiliary_loss():
    space = gym.spaces.Box(-1, 1, (5,), np.float32)
    torso = build_torso(space, ApproximatorConfig(type="vae"))
    with torch.no_grad():
        torso(torch.zeros(2, 5))
    torso.eval()
    torso(torch.zeros(2, 5))
    with pytest.raises(RuntimeError):
        torso.auxiliary_loss()


PIXELS = dict(n_envs=2, n_steps=16, batch_size=32, n_epochs=1, eval_freq=0,
              approximator={"type": "vae", "conv_layers": [[8, 4, 4]], "conv_dense": 32,
                            "latent_dim": 4})


def decoder_weights(agent) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone()
                      for p in agent.policy.actor_torso.decoder.parameters()])


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
@pytest.mark.parametrize("aux_coef", [0.0, 0.01])
def test_update_trains_the_decoder_by_aux_coef_and_logs_its_losses(algo, aux_coef):
    settings = {**PIXELS, "approximator": {**PIXELS["approximator"], "aux_coef": aux_coef}}
    if algo == "a2c":
        settings = {k: v for k, v in settings.items() if k not in ("batch_size", "n_epochs")}
    agent = rlkit.make(algo, "rlkit/PixelGrid-v0", seed=0, **settings)
    agent.runner, agent.end_step = agent.make_runner(), 10_000
    before = decoder_weights(agent)
    agent.collect()
    metrics = agent.update()
    assert metrics["losses/reconstruction"] > 0 and metrics["losses/kl"] >= 0
    changed = not torch.equal(decoder_weights(agent), before)
    assert changed == (aux_coef > 0)


@pytest.mark.parametrize("beta, has_kl", [(0.0, False), (1.0, True)])
def test_beta_weighs_the_kl_term(beta, has_kl):
    space = gym.spaces.Box(-1, 1, (5,), np.float32)
    torso = build_torso(space, ApproximatorConfig(type="vae", beta=beta))
    torch.manual_seed(0)
    torso(torch.ones(4, 5))
    aux = torso.auxiliary_loss()
    assert aux.kl > 0
    assert torch.isclose(aux.loss, aux.reconstruction).item() != has_kl


@pytest.mark.parametrize("algo", ["dqn", "reinforce"])
def test_agents_without_an_auxiliary_loss_refuse_the_torso(algo):
    with pytest.raises(ConfigError, match="decoder"):
        rlkit.make(algo, "CartPole-v1", seed=0, approximator={"type": "vae"})


def test_eval_writes_reconstructions_and_refuses_other_torsos(tmp_path, capsys):
    from rlkit.cli import main

    agent = rlkit.make("ppo", "rlkit/PixelGrid-v0", seed=0, **PIXELS)
    agent.save(tmp_path / "vae.pt")
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(tmp_path / "vae.pt"), "--episodes", "1",
              "--reconstructions", str(tmp_path / "out.png")])
    assert exit_info.value.code in (0, None)
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    rlkit.make("ppo", "CartPole-v1", seed=0).save(tmp_path / "mlp.pt")
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(tmp_path / "mlp.pt"), "--episodes", "1",
              "--reconstructions", str(tmp_path / "no.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1
    assert err[0].startswith("error: --reconstructions needs an autoencoder or vae torso")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppo_with_a_vae_torso_learns_pixel_grid(learns, seed):
    """The shipped PixelGrid entry with its CNN as a VAE's encoder (defaults: 32-d code, beta
    0.1, aux_coef 0.01), ~27 s. 2026-11-26, seeds 0-4: success 1.0 (50 episodes) on all five,
    final reconstruction error 21-37 (summed over 1200 pixel values; all zeros: 32 at the start
    of an episode, two 4x4 cells lit)."""
    learns("ppo", "rlkit/PixelGrid-v0", seed=seed, bar=0.9,
           approximator={"type": "vae", "activation": "relu",
                         "conv_layers": [[16, 4, 4], [32, 3, 1]], "conv_dense": 128})
