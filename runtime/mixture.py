"""A Gaussian mixture fitted by expectation–maximisation: the prior a generative circuit's top layer is
drawn from (schedule.sample), as Ororbia & Kifer fit one to GNCN's settled top latents."""
from __future__ import annotations

import numpy as np

#: added to every covariance's diagonal, as a fraction of the data's mean variance: a latent that never
#: varies (a unit no image drives) keeps a density instead of a singular covariance
RIDGE = 1e-4


class GaussianMixture:
    """K Gaussians with full covariances: ``weights`` (K,), ``means`` (K, d), ``cholesky`` (K, d, d),
    the lower Cholesky factor of each covariance."""

    def __init__(self, weights, means, cholesky):
        self.weights, self.means, self.cholesky = weights, means, cholesky

    @classmethod
    def fit(cls, z, components, rng, iterations=100, tolerance=1e-3):
        """Fit to the rows of ``z`` by EM from centres chosen by k-means++ (``rng`` draws them), until the
        mean log-likelihood gains less than ``tolerance`` in an iteration. Fewer distinct rows than
        components: one Gaussian per distinct row."""
        z = np.asarray(z, dtype=np.float64)
        n, d = z.shape
        k = max(1, min(components, len(np.unique(z, axis=0))))
        ridge = RIDGE * max(float(np.mean(np.var(z, axis=0))), 1e-12)
        nearest = _kmeans(z, _kmeans_plus_plus(z, k, rng))
        responsibility = np.zeros((n, k))
        responsibility[np.arange(n), nearest] = 1.0
        mixture, last = None, -np.inf
        for _ in range(iterations):
            mixture = cls._maximise(z, responsibility, ridge)
            log_joint = mixture._log_joint(z)
            log_density = log_sum_exp(log_joint)
            responsibility = np.exp(log_joint - log_density[:, None])
            mean = float(np.mean(log_density))
            if mean - last < tolerance:
                break
            last = mean
        return mixture

    @classmethod
    def _maximise(cls, z, responsibility, ridge):
        """The M step: weights, means and covariances of the responsibility-weighted rows."""
        counts = responsibility.sum(axis=0) + 1e-12
        means = responsibility.T @ z / counts[:, None]
        cholesky = np.empty((len(counts), z.shape[1], z.shape[1]))
        for j, (count, mean) in enumerate(zip(counts, means)):
            centred = z - mean
            covariance = (centred.T * responsibility[:, j]) @ centred / count
            covariance[np.diag_indices_from(covariance)] += ridge
            cholesky[j] = np.linalg.cholesky(covariance)
        return cls(counts / counts.sum(), means, cholesky)

    def _log_joint(self, z):
        """log(weight_j · N(z_i; mean_j, cov_j)) for every row i and Gaussian j."""
        n, d = z.shape
        out = np.empty((n, len(self.weights)))
        for j, (weight, mean, factor) in enumerate(zip(self.weights, self.means, self.cholesky)):
            whitened = (z - mean) @ np.linalg.inv(factor).T   # rows L⁻¹(z − μ): their squared norms are Mahalanobis
            log_det = 2.0 * np.sum(np.log(np.diag(factor)))
            out[:, j] = np.log(weight) - 0.5 * (d * np.log(2 * np.pi) + log_det + np.einsum("ij,ij->i", whitened,
                                                                                             whitened))
        return out

    def log_density(self, z) -> np.ndarray:
        """log p(z) of each row."""
        return log_sum_exp(self._log_joint(np.asarray(z, dtype=np.float64)))

    def sample(self, count, rng) -> np.ndarray:
        """``count`` rows drawn from the mixture with ``rng``."""
        chosen = rng.choice(len(self.weights), size=count, p=self.weights)
        noise = rng.standard_normal((count, self.means.shape[1]))
        return self.means[chosen] + np.einsum("nij,nj->ni", self.cholesky[chosen], noise)


def log_sum_exp(values) -> np.ndarray:
    """log Σ_j exp(values[i, j]) of each row, without overflow."""
    top = values.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.exp(values - top).sum(axis=1))


def _sqdist(a, b):
    return np.maximum((a ** 2).sum(1)[:, None] - 2 * a @ b.T + (b ** 2).sum(1)[None, :], 0.0)


def _kmeans(z, centres, iterations=50):
    """Each row's nearest centre once Lloyd's iterations from ``centres`` settle: a start that leaves EM
    few iterations to take (each far cheaper than one of EM's)."""
    nearest = np.argmin(_sqdist(z, centres), axis=1)
    for _ in range(iterations):
        centres = np.array([z[nearest == j].mean(axis=0) if np.any(nearest == j) else centres[j]
                            for j in range(len(centres))])
        moved = np.argmin(_sqdist(z, centres), axis=1)
        if np.array_equal(moved, nearest):
            break
        nearest = moved
    return nearest


def _kmeans_plus_plus(z, k, rng):
    """k centres among the rows of ``z``: the first at random, each next with probability proportional
    to its squared distance from the nearest chosen."""
    centres = [z[rng.integers(len(z))]]
    nearest = _sqdist(z, np.array(centres))[:, 0]
    for _ in range(1, k):
        total = nearest.sum()
        index = rng.choice(len(z), p=nearest / total) if total > 0 else rng.integers(len(z))
        centres.append(z[index])
        nearest = np.minimum(nearest, _sqdist(z, z[index:index + 1])[:, 0])
    return np.array(centres)
