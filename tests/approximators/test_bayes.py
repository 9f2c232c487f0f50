"""Bayesian linear regression against the closed form on a data set worked out by hand."""

from __future__ import annotations

import pytest
import torch

from rlkit.approximators.bayes import BayesianLinearRegression

# Phi = [[1, 0], [0, 1], [1, 1]], y = [1, 2, 3], sigma_n^2 = sigma_p^2 = 1:
#   A = Phi^T Phi + I = [[2, 1], [1, 2]] + I = [[3, 1], [1, 3]],  A^-1 = [[3, -1], [-1, 3]] / 8
#   Phi^T y = [1 + 3, 2 + 3] = [4, 5]
#   mu = A^-1 Phi^T y = [12 - 5, -4 + 15] / 8 = [7/8, 11/8]
#   Sigma = sigma_n^2 A^-1 = [[3/8, -1/8], [-1/8, 3/8]]
#   predictive variance at phi = [1, 1]: 1 + (3 - 1 - 1 + 3) / 8 = 1.5; at [1, 0]: 1 + 3/8
PHI = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
Y = torch.tensor([1.0, 2.0, 3.0])


def fitted(noise_var: float = 1.0, prior_var: float = 1.0) -> BayesianLinearRegression:
    """Model 0 gets the data set; model 1 gets nothing (it stays at the prior)."""
    model = BayesianLinearRegression(2, 2, prior_var=prior_var, noise_var=noise_var)
    model.fit(PHI, Y, torch.zeros(3, dtype=torch.long))
    return model


def test_posterior_mean_and_covariance_by_hand():
    model = fitted()
    torch.testing.assert_close(model.mean[0], torch.tensor([7 / 8, 11 / 8]))
    torch.testing.assert_close(model.covariance()[0],
                               torch.tensor([[3 / 8, -1 / 8], [-1 / 8, 3 / 8]]))
    # no data: the prior, N(0, sigma_p^2 I)
    torch.testing.assert_close(model.mean[1], torch.zeros(2))
    torch.testing.assert_close(model.covariance()[1], torch.eye(2))


def test_predictive_variance_by_hand():
    model = fitted()
    got = model.predictive_variance(torch.tensor([[1.0, 1.0], [1.0, 0.0]]))
    torch.testing.assert_close(got[:, 0], torch.tensor([1.5, 1 + 3 / 8]))
    torch.testing.assert_close(got[:, 1], torch.tensor([1 + 2.0, 1 + 1.0]))  # prior: 1 + |phi|^2


def test_the_noise_to_prior_ratio_is_the_ridge():
    """sigma_n^2 = 2, sigma_p^2 = 4: A = Phi^T Phi + I / 2 = [[2.5, 1], [1, 2.5]],
    det 5.25, A^-1 = [[2.5, -1], [-1, 2.5]] / 5.25; mu = A^-1 [4, 5] = [5, 8.5] / 5.25;
    Sigma = 2 A^-1."""
    model = fitted(noise_var=2.0, prior_var=4.0)
    torch.testing.assert_close(model.mean[0], torch.tensor([5 / 5.25, 8.5 / 5.25]))
    torch.testing.assert_close(model.covariance()[0],
                               2 * torch.tensor([[2.5, -1.0], [-1.0, 2.5]]) / 5.25)


def test_posterior_samples_have_the_posterior_mean_and_covariance():
    model = fitted()
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([model.sample(generator)[0] for _ in range(20_000)])
    torch.testing.assert_close(draws.mean(0), model.mean[0], atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(draws.T), model.covariance()[0], atol=0.02, rtol=0)


def test_bad_variances_are_refused():
    with pytest.raises(ValueError, match="must be > 0"):
        BayesianLinearRegression(2, 2, prior_var=0.0)


def test_new_targets_on_the_same_inputs_reuse_the_factorization():
    """solve(y') after set_inputs equals a fit from scratch on y': y' = 2 y doubles mu."""
    model = fitted()
    model.solve(2 * Y)
    torch.testing.assert_close(model.mean[0], torch.tensor([7 / 4, 11 / 4]))
    torch.testing.assert_close(model.covariance()[0], torch.tensor([[3.0, -1.0], [-1.0, 3.0]]) / 8)


def test_a_given_noise_vector_gives_mu_plus_the_covariance_square_root_times_it():
    """sample(z=e_1) = mu + sigma_n L^-T e_1 for model 0; with z = 0 it is the mean. Sigma =
    L^-T L^-1 sigma_n^2, so the samples of all unit vectors e_i have covariance Sigma."""
    model = fitted()
    torch.testing.assert_close(model.sample(z=torch.zeros(2, 2)), model.mean)
    columns = torch.stack([model.sample(z=torch.eye(2)[[i, i]])[0] - model.mean[0]
                           for i in range(2)])  # row i: L^-T e_i
    torch.testing.assert_close(columns.T @ columns, model.covariance()[0])
