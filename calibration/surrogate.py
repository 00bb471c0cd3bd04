"""A small Gaussian-process surrogate (numpy / scipy only) for the simulated-moments loss.

Used by :mod:`calibration.estimate` as in surrogate-based calibration of agent-based models
(Lamperti, Roventini & Sani 2018, *JEDC* 90; the samplers of ``black-it``; BOLFI, Gutmann &
Corander 2016, *JMLR* 17): the loss is evaluated by simulation at a batch of parameter
vectors, a GP is fitted to (parameters, loss), and the next batch is placed where the GP's
lower confidence bound is smallest; the estimate is the minimiser of the GP mean, which
smooths the simulation noise.

Kernel: anisotropic squared exponential (one length scale per parameter) plus a white-noise
term, constant mean; hyper-parameters by maximising the log marginal likelihood (L-BFGS-B,
fixed deterministic starts), inputs scaled to [0, 1]^d, outputs standardised. Rasmussen &
Williams (2006), *Gaussian Processes for Machine Learning*, ch. 2 and 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

__all__ = ["GP", "propose_batch"]


def _sqdist(A: np.ndarray, B: np.ndarray, ls: np.ndarray) -> np.ndarray:
    a = A / ls
    b = B / ls
    return np.maximum((a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T, 0.0)


@dataclass
class GP:
    """Gaussian-process regression with an ARD squared-exponential kernel."""

    log_ls: np.ndarray | None = None
    log_sf2: float = 0.0
    log_sn2: float = -2.0

    def _k(self, A, B):
        return np.exp(self.log_sf2) * np.exp(-0.5 * _sqdist(A, B, np.exp(self.log_ls)))

    def fit(self, X: np.ndarray, y: np.ndarray, optimize: bool = True) -> "GP":
        X = np.asarray(X, float)
        y = np.asarray(y, float)
        self.X = X
        self.ym = float(y.mean())
        self.ys = float(y.std()) or 1.0
        self.z = (y - self.ym) / self.ys
        d = X.shape[1]
        if optimize or self.log_ls is None:
            best = None
            bounds = [(np.log(0.03), np.log(10.0))] * d + [(np.log(0.05), np.log(20.0)), (np.log(1e-4), np.log(2.0))]
            for ls0, sn0 in ((0.3, -2.0), (1.0, -0.5), (0.12, -1.0)):
                x0 = np.concatenate([np.full(d, np.log(ls0)), [0.0, sn0]])
                try:
                    r = minimize(self._nlml, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                 options={"maxiter": 200})
                except (np.linalg.LinAlgError, ValueError):
                    continue
                if best is None or r.fun < best.fun:
                    best = r
            if best is not None:
                self.log_ls, self.log_sf2, self.log_sn2 = best.x[:d], float(best.x[d]), float(best.x[d + 1])
            else:  # pragma: no cover - defensive
                self.log_ls = np.full(d, np.log(0.3))
        self._factor()
        return self

    def _nlml(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log marginal likelihood and its gradient (Rasmussen & Williams 2006, eq. 5.9)."""
        X = self.X
        n, d = X.shape
        ls = np.exp(theta[:d])
        sf2, sn2 = np.exp(theta[d]), np.exp(theta[d + 1])
        Kse = sf2 * np.exp(-0.5 * _sqdist(X, X, ls))
        K = Kse + (sn2 + 1e-8) * np.eye(n)
        try:
            c = cho_factor(K, lower=True)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(theta)
        alpha = cho_solve(c, self.z)
        f = float(0.5 * self.z @ alpha + np.log(np.diag(c[0])).sum())
        W = cho_solve(c, np.eye(n)) - np.outer(alpha, alpha)       # K^-1 - alpha alpha^T
        g = np.empty_like(theta)
        for j in range(d):
            Dj = (X[:, j][:, None] - X[:, j][None, :]) ** 2 / ls[j] ** 2
            g[j] = 0.5 * np.sum(W * (Kse * Dj))
        g[d] = 0.5 * np.sum(W * Kse)
        g[d + 1] = 0.5 * sn2 * np.trace(W)
        return f, g

    def _factor(self) -> None:
        K = self._k(self.X, self.X) + (np.exp(self.log_sn2) + 1e-8) * np.eye(len(self.X))
        self._c = cho_factor(K, lower=True)
        self._alpha = cho_solve(self._c, self.z)

    def predict(self, Xs: np.ndarray, return_sd: bool = True):
        Xs = np.atleast_2d(np.asarray(Xs, float))
        Ks = self._k(Xs, self.X)
        mu = Ks @ self._alpha
        if not return_sd:
            return self.ym + self.ys * mu
        v = cho_solve(self._c, Ks.T)
        var = np.maximum(np.exp(self.log_sf2) - (Ks * v.T).sum(1), 1e-12)
        return self.ym + self.ys * mu, self.ys * np.sqrt(var)

    def refit_same(self, X: np.ndarray, y: np.ndarray) -> "GP":
        """Refit on new data with the current hyper-parameters (no optimisation)."""
        g = GP(self.log_ls.copy(), self.log_sf2, self.log_sn2)
        return g.fit(X, y, optimize=False)


def propose_batch(gp: GP, X: np.ndarray, y: np.ndarray, pool: np.ndarray, size: int,
                  kappa: float = 1.0, min_dist: float = 1e-3) -> np.ndarray:
    """Pick ``size`` points of ``pool`` by the lower confidence bound, one at a time.

    After each pick the GP is conditioned on its own prediction there ("kriging believer",
    Ginsbourger et al. 2010), which shrinks the uncertainty around it and spreads the batch.
    """
    Xc, yc = np.asarray(X, float), np.asarray(y, float)
    g = gp
    picks = []
    pool = np.asarray(pool, float)
    for _ in range(size):
        mu, sd = g.predict(pool)
        score = mu - kappa * sd
        if picks:
            dmin = np.min(np.linalg.norm(pool[:, None, :] - np.array(picks)[None, :, :], axis=2), axis=1)
            score = np.where(dmin < min_dist, np.inf, score)
        dx = np.min(np.linalg.norm(pool[:, None, :] - Xc[None, :, :], axis=2), axis=1)
        score = np.where(dx < min_dist, np.inf, score)
        j = int(np.argmin(score))
        picks.append(pool[j])
        Xc = np.vstack([Xc, pool[j]])
        yc = np.append(yc, mu[j])
        g = gp.refit_same(Xc, yc)
    return np.array(picks)
