"""Bayesian linear regression, the notes' closed form, one independent model per output (per
action for a Q head, as in BDQN, Azizzadenesheli et al. 2018).

With features Phi (N x d), targets y, prior w ~ N(0, sigma_p^2 I) and noise sigma_n^2:

    A = Phi^T Phi + (sigma_n^2 / sigma_p^2) I
    Sigma = sigma_n^2 A^-1            (posterior covariance)
    mu = Sigma Phi^T y / sigma_n^2 = A^-1 Phi^T y     (posterior mean)
    predictive variance at phi: sigma_n^2 + phi^T Sigma phi

Nothing is inverted explicitly: A = L L^T (Cholesky), mu = cholesky_solve(Phi^T y, L),
phi^T Sigma phi = sigma_n^2 |L^-1 phi|^2 and a posterior sample is mu + sigma_n L^-T z, z ~
N(0, I) (its covariance is sigma_n^2 L^-T L^-1 = Sigma), each by a triangular solve.
"""

from __future__ import annotations

import torch


class BayesianLinearRegression:
    """``n_outputs`` independent Bayesian linear regressions on ``dim`` features."""

    def __init__(self, dim: int, n_outputs: int, prior_var: float = 1.0,
                 noise_var: float = 1.0) -> None:
        if prior_var <= 0 or noise_var <= 0:
            raise ValueError("prior and noise variances must be > 0")
        self.dim, self.n_outputs = dim, n_outputs
        self.prior_var, self.noise_var = prior_var, noise_var
        # Before any data: mu = 0 and A = (sigma_n^2 / sigma_p^2) I, i.e. Sigma = sigma_p^2 I.
        self.mean = torch.zeros(n_outputs, dim)
        ridge = noise_var / prior_var
        self.cholesky = torch.eye(dim).expand(n_outputs, dim, dim) * ridge**0.5

    def fit(self, features: torch.Tensor, targets: torch.Tensor, outputs: torch.Tensor) -> None:
        """Refit every model from scratch: row i of ``features`` (N x d) with target
        ``targets[i]`` belongs to model ``outputs[i]`` (e.g. the action taken)."""
        self.set_inputs(features, outputs)
        self.solve(targets)

    def set_inputs(self, features: torch.Tensor, outputs: torch.Tensor) -> None:
        """The posterior covariance from the inputs alone: A_k = Phi_k^T Phi_k + (sigma_n^2 /
        sigma_p^2) I and its Cholesky factor; ``solve`` then fits targets on these inputs
        (several target vectors on one set of inputs cost one factorization)."""
        features = features.double()
        ridge = self.noise_var / self.prior_var
        eye = torch.eye(self.dim, dtype=torch.float64)
        self._rows = [torch.nonzero(outputs == k).flatten() for k in range(self.n_outputs)]
        self._features = features
        # Phi_k^T Phi_k of every model k: one product over its own rows (a three-operand einsum
        # over all N rows and K models costs ten times as much)
        gram = torch.stack([features[rows].T @ features[rows] for rows in self._rows])
        self._cholesky64 = torch.linalg.cholesky(gram + ridge * eye)
        self.cholesky = self._cholesky64.float()

    def solve(self, targets: torch.Tensor) -> None:
        """mu_k = A_k^-1 Phi_k^T y_k on the inputs of the last ``set_inputs``."""
        targets = targets.double()
        moment = torch.stack([self._features[rows].T @ targets[rows] for rows in self._rows])
        mean = torch.cholesky_solve(moment.unsqueeze(-1), self._cholesky64).squeeze(-1)
        self.mean = mean.float()

    def covariance(self) -> torch.Tensor:
        """Sigma of every model (K x d x d); for tests and inspection (acting never needs it)."""
        return self.noise_var * torch.cholesky_inverse(self.cholesky)

    def predictive_variance(self, features: torch.Tensor) -> torch.Tensor:
        """sigma_n^2 + phi^T Sigma_k phi for every row of ``features`` (N x d) and model k:
        N x K."""
        # L_k^-1 phi for every k: K x d x N
        solved = torch.linalg.solve_triangular(
            self.cholesky, features.T.expand(self.n_outputs, -1, -1), upper=False)
        return self.noise_var * (1.0 + solved.pow(2).sum(1).T)

    def sample(self, generator: torch.Generator | None = None,
               z: torch.Tensor | None = None) -> torch.Tensor:
        """One weight vector per model from the posterior: mu + sigma_n L^-T z (K x d), with
        z ~ N(0, I) drawn from ``generator`` unless given (K x d)."""
        if z is None:
            z = torch.randn(self.n_outputs, self.dim, generator=generator)
        z = z.unsqueeze(-1)
        noise = torch.linalg.solve_triangular(self.cholesky.transpose(1, 2), z, upper=True)
        return self.mean + self.noise_var**0.5 * noise.squeeze(-1)
