"""Sample-quality metrics on features, probabilities or images: FID, KID, Inception
Score, MS-SSIM diversity.

Every metric but MS-SSIM takes features or class probabilities, never images, so the
feature network is an argument of the caller (:mod:`tfbegan.evaluation.features`). All results
are float64 NumPy / Python floats.

* FID (Heusel et al. 2017): ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})``.
* KID (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets.
* Inception Score (Salimans et al. 2016; Berthelot et al. 2017, sec. 4.5, Table 1):
  ``exp(E_x KL(p(y|x) || p(y)))``, mean and std over splits.
* MS-SSIM diversity (Odena et al. 2017): mean MS-SSIM over random pairs of
  distinct images; higher means less diverse, near 1 is mode collapse.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import tensorflow as tf

from tfbegan import imaging

logger = logging.getLogger("tfbegan")

# ---------------------------------------------------------------------- FID
def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``d^2 = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^{1/2})``
    (Dowson & Landau 1982; FID, Heusel et al. 2017).

    The square root of the (non-symmetric) product is taken with
    ``scipy.linalg.sqrtm`` in float64, handled as the reference implementations
    (TTUR's ``fid.py``, pytorch-fid) do:

    * if the result is not finite (a singular product, e.g. fewer samples than
      feature dimensions), ``eps * I`` is added to both covariances and the root
      recomputed;
    * round-off gives the product's eigenvalues (real, >= 0 in exact arithmetic)
      tiny imaginary parts, so ``sqrtm`` may return a complex matrix: the real part
      is kept when the imaginary part of the diagonal is below 1e-3, otherwise a
      ``ValueError`` is raised (the covariances are not valid).

    A result in [-1e-6 * scale, 0) (round-off around 0) is returned as 0.0.

    Returns:
      float, the squared Fréchet distance.
    """
    from scipy import linalg

    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise ValueError(f"mu1 {mu1.shape} and mu2 {mu2.shape} must be vectors of one "
                         f"length.")
    d = mu1.shape[0]
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"sigma1 {sigma1.shape} and sigma2 {sigma2.shape} must both be "
                         f"[{d}, {d}].")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # Singular products (dead ReLU features) are expected; checked below.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            logger.warning("FID: singular covariance product; adding %g to the "
                           "diagonals.", eps)
            offset = np.eye(d) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.max(np.abs(np.diagonal(covmean).imag))
        if imag > 1e-3:
            raise ValueError(f"FID: the covariance product's square root has an "
                             f"imaginary component {imag:.3g} > 1e-3; the covariances "
                             f"are not valid (not symmetric positive semi-definite?).")
        covmean = covmean.real
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2)
                  - 2.0 * np.trace(covmean))
    scale = max(1.0, float(np.trace(sigma1) + np.trace(sigma2)))
    if -1e-6 * scale <= value < 0.0:
        value = 0.0
    return value


def _check_features(features, name):
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{name} must be a [N >= 2, D] array of features, got shape "
                         f"{x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds non-finite values.")
    return x


def feature_statistics(features):
    """``(mu, sigma)``: mean and unbiased covariance (ddof = 1) of ``[N, D]``."""
    x = _check_features(features, "features")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def fid(features_a, features_b):
    """FID between two feature sets ``[N_a, D]``, ``[N_b, D]`` (Gaussian fits)."""
    a = _check_features(features_a, "features_a")
    b = _check_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature widths differ: {a.shape[1]} vs {b.shape[1]}.")
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))


# ---------------------------------------------------------------------- KID
def polynomial_kernel(x, y):
    """``k(x, y) = (x.y / d + 1)^3``, KID's kernel (Binkowski et al. 2018)."""
    t = x @ y.T / x.shape[1] + 1.0
    return t * t * t


def mmd2_unbiased(x, y):
    """Unbiased MMD^2 of two equally sized samples with :func:`polynomial_kernel`:

    ``sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
    - 2 sum_{i, j} k(x_i, y_j) / m^2``.
    """
    m = x.shape[0]
    kxx = polynomial_kernel(x, x)
    kyy = polynomial_kernel(y, y)
    kxy = polynomial_kernel(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                 + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2.0 * kxy.mean())


def kid(features_a, features_b, subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance: :func:`mmd2_unbiased` averaged over ``subsets``
    random subsets of ``min(subset_size, N_a, N_b)`` samples of each set (drawn
    without replacement within a subset), as in Binkowski et al. 2018.

    Unbiased: its expectation is 0 when both sets come from one distribution, so
    small negative values occur.

    Returns:
      ``(mean, std)`` over the subsets.
    """
    a = _check_features(features_a, "features_a")
    b = _check_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature widths differ: {a.shape[1]} vs {b.shape[1]}.")
    if isinstance(subsets, bool) or int(subsets) < 1:
        raise ValueError(f"subsets={subsets!r} must be >= 1.")
    if isinstance(subset_size, bool) or int(subset_size) < 2:
        raise ValueError(f"subset_size={subset_size!r} must be >= 2.")
    m = min(int(subset_size), a.shape[0], b.shape[0])
    rng = np.random.default_rng(seed)
    values = np.array([
        mmd2_unbiased(a[rng.choice(a.shape[0], m, replace=False)],
                      b[rng.choice(b.shape[0], m, replace=False)])
        for _ in range(int(subsets))])
    return float(values.mean()), float(values.std())


# ---------------------------------------------------------------------- IS
def inception_score(probs, splits=10, eps=1e-12):
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` (Salimans et al. 2016).

    ``p(y)`` is the mean of ``p(y|x)`` within each of ``splits`` consecutive,
    equally sized parts of ``probs`` (the reference code's convention; a
    remainder is dropped). 1 when every image gets the same prediction; the class
    count when predictions are one-hot and spread evenly over the classes.

    Args:
      probs: ``[N, classes]`` rows summing to 1.
      splits: number of parts (1 <= splits <= N).

    Returns:
      ``(mean, std)`` over the splits.
    """
    p = np.asarray(probs, np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"probs must be [N, classes], got shape {p.shape}.")
    if (p < -1e-6).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs must be probabilities (non-negative rows summing to 1).")
    if isinstance(splits, bool) or not 1 <= int(splits) <= p.shape[0]:
        raise ValueError(f"splits={splits!r} must be in [1, {p.shape[0]}].")
    size = p.shape[0] // int(splits)
    scores = []
    for i in range(int(splits)):
        part = np.clip(p[i * size:(i + 1) * size], 0.0, 1.0)
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + eps) - np.log(marginal + eps)), axis=1)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


# ---------------------------------------------------------------------- MS-SSIM
#: Wang et al. 2003's five scale weights (tf.image.ssim_multiscale's default).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_settings(image_size):
    """``(power_factors, filter_size)`` for MS-SSIM on ``image_size`` squared images.

    The standard setting (11x11 Gaussian window, 5 scales) needs images of at least
    ``11 * 2^4 = 176`` pixels: ``tf.image.ssim_multiscale`` halves the image 4 times
    and each scale must still hold one window. For smaller images the window is
    ``filter_size = odd(clip(image_size // 4, 3, 11))`` (7 at 32x32, 3 at 16x16)
    and the number of scales is the largest K <= 5 with
    ``image_size / 2^(K - 1) >= filter_size`` (3 at 32x32); the first K standard
    weights are kept and renormalised to sum to 1, so identical images still score
    exactly 1 and the coarse-to-fine balance is the standard one truncated.
    """
    size = int(image_size)
    if size < 3:
        raise ValueError(f"image_size={image_size!r} must be >= 3 for MS-SSIM.")
    f = min(11, max(3, size // 4))
    if f % 2 == 0:
        f -= 1
    f = max(f, 3)
    scales = 1
    while scales < 5 and size / 2 ** scales >= f:
        scales += 1
    w = np.array(MS_SSIM_WEIGHTS[:scales])
    return tuple(float(v) for v in w / w.sum()), f


def ms_ssim_diversity(images, pairs=1000, seed=0, batch_size=256, power_factors=None,
                      filter_size=None):
    """Mean MS-SSIM over random pairs of distinct images (Odena et al. 2017).

    A mode-collapse indicator: a generator whose samples look alike scores near 1;
    compare with the same number for real images. Images in [-1, 1] are mapped to
    [0, 1] (``max_val=1``). Pairs ``(i, j)``, ``i != j``, are drawn uniformly with
    a seeded generator. ``power_factors`` / ``filter_size`` default to
    :func:`ms_ssim_settings` for the image size. Note that
    ``tf.image.ssim_multiscale`` clips negative contrast-structure terms to 0, so
    unrelated images often score exactly 0.

    Returns:
      float, the mean over pairs.
    """
    x = np.asarray(images, np.float32)
    if x.ndim != 4 or x.shape[0] < 2 or x.shape[-1] not in (1, 3):
        raise ValueError(f"images must be [N >= 2, H, W, 1 or 3], got shape {x.shape}.")
    if isinstance(pairs, bool) or int(pairs) < 1:
        raise ValueError(f"pairs={pairs!r} must be >= 1.")
    default_pf, default_f = ms_ssim_settings(min(x.shape[1], x.shape[2]))
    power_factors = default_pf if power_factors is None else tuple(power_factors)
    filter_size = default_f if filter_size is None else int(filter_size)
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    first = rng.integers(0, n, int(pairs))
    second = (first + rng.integers(1, n, int(pairs))) % n  # never equal to first
    x01 = imaging.to_zero_one(np.clip(x, -1.0, 1.0))
    values = []
    for i in range(0, int(pairs), batch_size):
        a = tf.constant(x01[first[i:i + batch_size]])
        b = tf.constant(x01[second[i:i + batch_size]])
        values.append(tf.image.ssim_multiscale(
            a, b, max_val=1.0, power_factors=power_factors,
            filter_size=filter_size).numpy())
    return float(np.mean(np.concatenate(values)))
