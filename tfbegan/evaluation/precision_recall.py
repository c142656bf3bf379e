"""Improved precision and recall of generated samples (Kynkäänniemi et al. 2019,
"Improved Precision and Recall Metric for Assessing Generative Models", sec. 2).

Each feature set approximates its manifold by the union of hyperspheres around its
points, each with the radius of the distance to its k-th nearest neighbour in the
same set (k = 3, the paper's choice):

    f(x, Phi) = 1 if ||x - phi|| <= ||phi - NN_k(phi, Phi)|| for some phi in Phi, else 0
    precision = mean over generated g of f(g, Phi_real)
    recall    = mean over real r of f(r, Phi_generated)

Precision is the share of generated samples that fall inside the real manifold
(quality: 1 when every sample looks like some real image); recall is the share of real
images inside the generated manifold (coverage: 1 when the generator reaches all the
data's variety, low when it has dropped modes). Both lie in [0, 1]; both are 1 for
identical sets. The paper uses VGG-16 features of 50,000 images; any feature network
works here (:mod:`tfbegan.evaluation.features`), but values depend on it and on the
set sizes (larger sets give smaller radii), so compare at one network and ``num``.

Distances are computed in float64 blocks of ``batch_size`` rows through
``|a|^2 + |b|^2 - 2 a.b`` (as the paper's code does), so memory stays at
``batch_size x N`` whatever the feature width.
"""

from __future__ import annotations

import numpy as np

#: Kynkäänniemi et al. 2019, sec. 2: k = 3 balances a manifold estimate that is too
#: tight (k = 1) against one that covers outliers' empty space.
DEFAULT_K = 3


def _check(features, name):
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or len(x) < 2 or not np.isfinite(x).all():
        raise ValueError(f"{name} must be a finite [N >= 2, D] array of features, got "
                         f"shape {x.shape}.")
    return x


def squared_distances(a, b):
    """``[len(a), len(b)]`` squared Euclidean distances (clipped at 0: round-off)."""
    d2 = (np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :]
          - 2.0 * (a @ b.T))
    return np.maximum(d2, 0.0)


def knn_radii(features, k=DEFAULT_K, batch_size=1000):
    """Squared distance of each point to its k-th nearest other point of the set.

    A point's distance to itself (0) is the smallest of its row, so the k-th nearest
    *other* point is at sorted index k (a duplicate point gives radius 0, not an
    error)."""
    x = _check(features, "features")
    if isinstance(k, bool) or not 1 <= int(k) < len(x):
        raise ValueError(f"k={k!r} must be in [1, {len(x) - 1}] for {len(x)} points.")
    k = int(k)
    radii = np.empty(len(x))
    for i in range(0, len(x), batch_size):
        d2 = squared_distances(x[i:i + batch_size], x)
        radii[i:i + batch_size] = np.partition(d2, k, axis=1)[:, k]
    return radii


def inside_manifold(queries, reference, radii, batch_size=1000):
    """Boolean ``[len(queries)]``: whether each query lies in some reference point's
    hypersphere (``d^2 <= radius^2``, with a 1e-9 relative margin for the
    round-off of the distance expansion)."""
    q = _check(queries, "queries")
    ref = _check(reference, "reference")
    if q.shape[1] != ref.shape[1]:
        raise ValueError(f"feature widths differ: {q.shape[1]} vs {ref.shape[1]}.")
    scale = 1e-9 * max(1.0, float(np.mean(np.sum(ref * ref, axis=1))))
    out = np.empty(len(q), bool)
    for i in range(0, len(q), batch_size):
        d2 = squared_distances(q[i:i + batch_size], ref)
        out[i:i + batch_size] = np.any(d2 <= radii[None, :] + scale, axis=1)
    return out


def precision_recall(real, generated, k=DEFAULT_K, batch_size=1000):
    """``(precision, recall)`` of ``generated`` against ``real`` feature sets
    ``[N, D]`` (see the module docstring), as Python floats."""
    real = _check(real, "real features")
    generated = _check(generated, "generated features")
    precision = inside_manifold(generated, real, knn_radii(real, k, batch_size),
                                batch_size).mean()
    recall = inside_manifold(real, generated, knn_radii(generated, k, batch_size),
                             batch_size).mean()
    return float(precision), float(recall)
