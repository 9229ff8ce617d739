"""A probit landscape with a known Definition-4.1 basin size, for the basin-size tests.

Item k is correct at theta0 + sigma * delta when sigma * (w_k . z) < c_k, with z = P delta a few
Gaussian coordinates of the direction (items share them, so they fail together, as a model's do).
With delta ~ N(0, I), w_k . z ~ N(0, |w_k|^2), so

    E S(theta0 + sigma delta) = mean_k Phi(c_k / (sigma |w_k|))      (closed form)

and theta0's score is the fraction of items with c_k > 0. Items with c_k < 0 are wrong at theta0
and rise towards 1/2: their rise never ends the basin. sigma* solves base - f(sigma) = tol.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.optimize import brentq
from scipy.stats import norm


class Probit:
    """m items over d shared Gaussian coordinates (seeded: the same model every time)."""

    def __init__(self, m: int = 40, d: int = 4, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.w = rng.normal(size=(m, d))
        self.c = rng.normal(0.6, 0.5, size=m)
        self.base = float(np.mean(self.c > 0))

    def f(self, sigma: float) -> float:
        """E S(theta0 + sigma delta), delta ~ N(0, I)."""
        return float(np.mean(norm.cdf(self.c / (sigma * np.linalg.norm(self.w, axis=1)))))

    def sigma_star(self, tol: float) -> float:
        """The true basin size: base - f(sigma) = tol (f falls monotonically here)."""
        return float(brentq(lambda s: self.base - self.f(s) - tol, 1e-9, 1e3, xtol=1e-14))

    def items(self, z: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """[N, A, m] 0/1 item scores along the directions z [N, d] at the alphas [A]."""
        proj = z @ self.w.T  # [N, m]
        return (alphas[None, :, None] * proj[:, None, :] < self.c[None, None, :]).astype(np.float64)

    def dataset(self, rng: np.random.Generator, n_directions: int, alphas: np.ndarray) -> xr.Dataset:
        """A landscape Dataset (score, item_score, base_score, base_item_score, higher_is_better) of two
        benchmarks: "acc" (the probit score) and "err" (1 - it, lower is better: the same basin)."""
        x = self.items(rng.normal(size=(n_directions, self.w.shape[1])), alphas)
        item = np.stack([x, 1 - x], axis=2)  # [N, A, 2, m]
        base_items = np.stack([self.c > 0, self.c <= 0]).astype(np.float64)
        dims = ("direction", "alpha", "benchmark")
        return xr.Dataset(
            {"score": (dims, item.mean(-1)), "item_score": ((*dims, "item"), item),
             "base_score": ("benchmark", base_items.mean(-1)), "base_item_score": (("benchmark", "item"), base_items)},
            coords={"direction": np.arange(n_directions), "alpha": alphas, "benchmark": ["acc", "err"],
                    "higher_is_better": ("benchmark", [True, False])})
