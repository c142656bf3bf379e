"""Sample-quality metrics: FID, KID, Inception Score, MS-SSIM diversity.

Every metric takes features or class probabilities, never images, so the feature
network is an argument (:class:`FeatureNetwork`):

* :class:`InceptionFeatures`: InceptionV3 from ``keras.applications`` with ImageNet
  weights (2048-d ``avg_pool`` features, 1000-way softmax). Offline, the weights
  must already be in the Keras cache or be given as a path; nothing is downloaded
  unless asked for.
* :class:`DigitClassifier`: a small CNN trained on the 5,000 embedded MNIST digits
  (``tfbegan.data.load_mnist5k``): 64-d penultimate features, 10-way softmax. It
  makes the metrics computable offline for digit models; its numbers are *not*
  comparable with Inception-based FID/IS in the literature, so every report names
  the network (:attr:`FeatureNetwork.name`).
* :class:`CallableFeatures`: any user function ``images -> features``.

Metrics (float64 numpy):

* FID (Heusel et al. 2017): ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})``.
* KID (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel
  ``k(x, y) = (x.y / d + 1)^3``, averaged over random subsets.
* Inception Score (Salimans et al. 2016; BEGAN paper sec. 4.5, Table 1):
  ``exp(E_x KL(p(y|x) || p(y)))``, mean and std over splits.
* MS-SSIM diversity (Odena et al. 2017): mean MS-SSIM over random pairs of
  distinct images; higher means less diverse, near 1 is mode collapse. Reported
  for generated and real images side by side.

:func:`evaluate_images` combines them; :class:`QualityEvaluator` runs it during
training and logs to TensorBoard; ``tfbegan-evaluate`` prints it as one JSON line.
"""

from __future__ import annotations

import json
import logging
import math
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

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
    x01 = (np.clip(x, -1.0, 1.0) + 1.0) / 2.0
    values = []
    for i in range(0, int(pairs), batch_size):
        a = tf.constant(x01[first[i:i + batch_size]])
        b = tf.constant(x01[second[i:i + batch_size]])
        values.append(tf.image.ssim_multiscale(
            a, b, max_val=1.0, power_factors=power_factors,
            filter_size=filter_size).numpy())
    return float(np.mean(np.concatenate(values)))


# ---------------------------------------------------------------------- networks
def _to_channels(images, channels):
    if images.shape[-1] == channels:
        return images
    if channels == 3:
        return tf.repeat(images, 3, axis=-1)
    return tf.reduce_mean(images, axis=-1, keepdims=True)  # RGB -> grey, equal weights


class FeatureNetwork:
    """A network giving features (for FID/KID) and optionally class probabilities
    (for IS) of images in [-1, 1].

    Subclasses set :attr:`name` (printed in every report) and implement
    :meth:`_outputs` (one batch -> ``(features, probabilities or None)``).
    """

    name = "feature_network"
    #: Whether :meth:`probabilities` is available (IS applies).
    has_probabilities = False

    def _outputs(self, images):  # pragma: no cover - abstract
        raise NotImplementedError

    def features_and_probabilities(self, images, batch_size=100):
        """``(features [N, D], probabilities [N, C] or None)`` as float64 numpy."""
        x = np.asarray(images, np.float32)
        if x.ndim != 4 or x.shape[0] == 0:
            raise ValueError(f"images must be a non-empty [N, H, W, C] array, got shape "
                             f"{x.shape}.")
        feats, probs = [], []
        for i in range(0, len(x), batch_size):
            f, p = self._outputs(tf.constant(x[i:i + batch_size]))
            feats.append(np.asarray(f, np.float64).reshape(len(x[i:i + batch_size]), -1))
            if p is not None:
                probs.append(np.asarray(p, np.float64))
        return np.concatenate(feats), (np.concatenate(probs) if probs else None)

    def features(self, images, batch_size=100):
        return self.features_and_probabilities(images, batch_size)[0]

    def probabilities(self, images, batch_size=100):
        return self.features_and_probabilities(images, batch_size)[1]


class CallableFeatures(FeatureNetwork):
    """Wraps ``features_fn(images) -> [N, D]`` (and optionally
    ``probabilities_fn(images) -> [N, C]``) as a :class:`FeatureNetwork`."""

    def __init__(self, name, features_fn, probabilities_fn=None):
        self.name = str(name)
        self._features_fn = features_fn
        self._probabilities_fn = probabilities_fn
        self.has_probabilities = probabilities_fn is not None

    def _outputs(self, images):
        p = self._probabilities_fn(images) if self._probabilities_fn else None
        return self._features_fn(images), p


# InceptionV3 --------------------------------------------------------------
INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
INCEPTION_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                         "inception_v3/" + INCEPTION_WEIGHTS_FILE)


class InceptionWeightsUnavailable(FileNotFoundError):
    """No InceptionV3 ImageNet weights here and downloading was not allowed."""


def keras_cache_dir():
    """Where ``keras.applications`` caches weights: ``$KERAS_HOME/models``, else
    ``~/.keras/models`` (``/tmp/.keras/models`` when the home is read-only)."""
    home = os.environ.get("KERAS_HOME")
    if not home:
        base = os.path.expanduser("~")
        if not os.access(base, os.W_OK):
            base = "/tmp"
        home = os.path.join(base, ".keras")
    return os.path.join(home, "models")


def find_inception_weights(weights=None, cache_dir=None, download=False):
    """Path of the InceptionV3 ImageNet weights (with the classification top).

    ``weights``: an explicit ``.h5`` path (must exist). Otherwise the Keras cache
    (``cache_dir``, default :func:`keras_cache_dir`) is checked for
    ``inception_v3_weights_tf_dim_ordering_tf_kernels.h5`` *before* any network
    access, so an offline machine fails at once with a message instead of
    retrying a download; with ``download=True`` Keras fetches the file.

    Raises:
      InceptionWeightsUnavailable: no file and ``download`` is False.
    """
    if weights:
        if not os.path.isfile(weights):
            raise InceptionWeightsUnavailable(
                f"--inception_weights={weights!r} does not exist; pass the path of "
                f"{INCEPTION_WEIGHTS_FILE} (from {INCEPTION_WEIGHTS_URL}).")
        return weights
    cache_dir = cache_dir or keras_cache_dir()
    cached = os.path.join(cache_dir, INCEPTION_WEIGHTS_FILE)
    if os.path.isfile(cached):
        return cached
    if not download:
        raise InceptionWeightsUnavailable(
            f"InceptionV3 ImageNet weights are not available offline: {cached!r} does "
            f"not exist. Download {INCEPTION_WEIGHTS_URL} on a machine with network "
            f"access and pass --inception_weights=PATH (weights=PATH in Python), copy "
            f"it to {cached!r}, allow the download (--download_inception / "
            f"download=True), or use --feature_net=digits (the embedded-digit "
            f"classifier).")
    return keras.utils.get_file(INCEPTION_WEIGHTS_FILE, INCEPTION_WEIGHTS_URL,
                                cache_subdir="models",
                                cache_dir=os.path.dirname(cache_dir),
                                file_hash="9a0d58056eeedaa3f26cb7ebd46da564")


class InceptionFeatures(FeatureNetwork):
    """InceptionV3 (``keras.applications``) with ImageNet weights.

    Images in [-1, 1] (already InceptionV3's input range) are resized bilinearly
    to 299x299 and grey images repeated to RGB. Features: the 2048-d global
    average pool (``avg_pool``); probabilities: the 1000-way softmax. Note that
    published FIDs use the 2015 TF-slim graph (pool_3, 1008 classes), whose
    weights differ from ``keras.applications``', so values are comparable between
    tfbegan runs, not with papers.

    Args:
      weights: path of the ``.h5`` weights; None: the Keras cache (see
        :func:`find_inception_weights`).
      download: allow Keras to download missing weights.
      cache_dir: override of the Keras weights cache (tests).
    """

    name = "inception_v3"
    has_probabilities = True

    def __init__(self, weights=None, download=False, cache_dir=None):
        path = find_inception_weights(weights, cache_dir, download)
        base = keras.applications.InceptionV3(include_top=True, weights=None)
        base.load_weights(path)
        self.weights_path = path
        self._model = keras.Model(base.inputs, [base.get_layer("avg_pool").output,
                                                base.output])

    def _outputs(self, images):
        x = tf.image.resize(_to_channels(images, 3), [299, 299], method="bilinear")
        f, p = self._model(x, training=False)
        return f, p


# Embedded-digit classifier --------------------------------------------------
DIGIT_CLASSES = 10


def default_classifier_path(image_size=32):
    """``$TFBEGAN_CACHE/digit_classifier_<size>.keras`` (default cache
    ``~/.cache/tfbegan``)."""
    cache = os.environ.get("TFBEGAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "tfbegan")
    return os.path.join(cache, f"digit_classifier_{int(image_size)}.keras")


def build_digit_classifier(image_size=32, width=16, feature_dim=64, seed=0):
    """The digit CNN: two (3x3 conv + ReLU, 2x2 max-pool) stages with ``width``
    and ``2 width`` filters, a ``feature_dim`` ReLU layer named ``features`` (the
    embedding FID/KID use) and a 10-way softmax named ``probabilities``."""
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((image_size, image_size, 1), name="images")
    x = inputs
    for i, f in enumerate((width, 2 * width)):
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu",
                                kernel_initializer=init(seed + i), name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    feats = keras.layers.Dense(feature_dim, activation="relu",
                               kernel_initializer=init(seed + 10), name="features")(x)
    probs = keras.layers.Dense(DIGIT_CLASSES, activation="softmax",
                               kernel_initializer=init(seed + 11),
                               name="probabilities")(feats)
    return keras.Model(inputs, probs, name="digit_classifier")


def split_digits(images, labels, held_out=0.2, seed=0):
    """Seeded, class-stratified split: ``(train_x, train_y, test_x, test_y)``."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * held_out))
        test_idx.append(idx[:k])
        train_idx.append(idx[k:])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = np.sort(np.concatenate(test_idx))
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


class DigitClassifier(FeatureNetwork):
    """A small CNN trained on the embedded MNIST digits, as an offline stand-in
    for InceptionV3 on digit models.

    Features are the 64-d ``features`` layer, probabilities the 10-way softmax.
    Inputs of any size / channel count are converted to the classifier's
    (``image_size`` squared, grey; bilinear resize, channel mean). Build one with
    :meth:`train` (saved with :meth:`save`) or :meth:`load`.

    Attributes:
      accuracy: held-out accuracy measured when it was trained (None if unknown).
    """

    name = "digit_classifier"
    has_probabilities = True

    def __init__(self, model, accuracy=None, path=None):
        self.model = model
        self.image_size = int(model.input_shape[1])
        self.accuracy = accuracy
        self.path = path
        self._model = keras.Model(model.inputs, [model.get_layer("features").output,
                                                 model.output])

    @property
    def description(self):
        acc = "" if self.accuracy is None else f", held-out accuracy {self.accuracy:.4f}"
        return (f"{self.name} (CNN on the embedded MNIST digits, {self.image_size}x"
                f"{self.image_size}{acc}; not InceptionV3)")

    @classmethod
    def train(cls, image_size=32, epochs=3, batch_size=64, learning_rate=2e-3,
              held_out=0.2, seed=0, max_train=None, verbose=0):
        """Trains on a stratified ``1 - held_out`` share of ``load_mnist5k`` and
        measures accuracy on the rest. ``max_train`` caps the training images
        (tests)."""
        from tfbegan.data import load_mnist5k

        images, labels = load_mnist5k(image_size)
        tx, ty, vx, vy = split_digits(images, labels, held_out, seed)
        if max_train:
            tx, ty = tx[:max_train], ty[:max_train]
        keras.utils.set_random_seed(seed)
        model = build_digit_classifier(image_size, seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(tx, ty, batch_size=batch_size, epochs=epochs, verbose=verbose,
                  shuffle=True)
        pred = np.argmax(model.predict(vx, batch_size=256, verbose=0), axis=1)
        accuracy = float(np.mean(pred == vy))
        return cls(model, accuracy=accuracy)

    def save(self, path=None):
        """Writes ``path`` (.keras) and ``path + .json`` (accuracy, size)."""
        path = path or default_classifier_path(self.image_size)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = path + ".tmp.keras"
        self.model.save(tmp)
        os.replace(tmp, path)
        with open(path + ".json", "w") as f:
            json.dump({"accuracy": self.accuracy, "image_size": self.image_size}, f)
        self.path = path
        return path

    @classmethod
    def load(cls, path=None, image_size=32):
        """Loads a classifier saved by :meth:`save` (default path per size)."""
        path = path or default_classifier_path(image_size)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"no digit classifier at {path!r}; train it once with "
                f"`tfbegan-evaluate --train_classifier` (or pass --classifier_path).")
        model = keras.saving.load_model(path, compile=False)
        accuracy = None
        if os.path.isfile(path + ".json"):
            with open(path + ".json") as f:
                accuracy = json.load(f).get("accuracy")
        return cls(model, accuracy=accuracy, path=path)

    def _outputs(self, images):
        x = _to_channels(images, 1)
        if x.shape[1] != self.image_size or x.shape[2] != self.image_size:
            x = tf.image.resize(x, [self.image_size, self.image_size], method="bilinear",
                                antialias=True)
        f, p = self._model(x, training=False)
        return f, p


def describe(network):
    """The feature network's name plus details, as reports print it."""
    return getattr(network, "description", None) or network.name


# ---------------------------------------------------------------------- reports
def evaluate_images(generated, real, feature_network, kid_subsets=100,
                    kid_subset_size=1000, is_splits=10, ms_ssim_pairs=500, seed=0,
                    batch_size=100, real_cache=None):
    """FID, KID, IS (when the network has probabilities) and MS-SSIM diversity.

    Args:
      generated, real: ``[N, H, W, C]`` images in [-1, 1] (same H, W, C).
      feature_network: a :class:`FeatureNetwork`.
      real_cache: optional dict; the real images' features and MS-SSIM are stored
        there and reused on later calls (the training callback's fixed real set).

    Returns:
      A JSON-serialisable dict: ``fid``, ``kid``, ``kid_std``, ``is``, ``is_std``
      (IS of the generated images; omitted without probabilities), ``is_real``
      (IS of the real images in a seeded random order, since real sets are often
      sorted by class, which would put one class in each split),
      ``ms_ssim_generated``, ``ms_ssim_real``, ``num_generated``, ``num_real``,
      ``feature_network`` (name) and ``feature_network_detail``.
    """
    generated = np.asarray(generated, np.float32)
    real = np.asarray(real, np.float32)
    if generated.shape[1:] != real.shape[1:]:
        raise ValueError(f"generated images {generated.shape[1:]} and real images "
                         f"{real.shape[1:]} differ in shape.")
    cache = real_cache if real_cache is not None else {}
    if "features" not in cache:
        cache["features"], real_p = feature_network.features_and_probabilities(
            real, batch_size)
        cache["ms_ssim"] = ms_ssim_diversity(real, ms_ssim_pairs, seed + 1)
        if real_p is not None:
            order = np.random.default_rng(seed).permutation(len(real_p))
            cache["is"] = inception_score(real_p[order], min(is_splits, len(real_p)))[0]
    gen_f, gen_p = feature_network.features_and_probabilities(generated, batch_size)
    kid_mean, kid_std = kid(gen_f, cache["features"], kid_subsets, kid_subset_size, seed)
    report = {
        "fid": fid(gen_f, cache["features"]),
        "kid": kid_mean,
        "kid_std": kid_std,
    }
    if gen_p is not None:
        report["is"], report["is_std"] = inception_score(
            gen_p, min(is_splits, len(gen_p)))
        report["is_real"] = cache["is"]
    report.update({
        "ms_ssim_generated": ms_ssim_diversity(generated, ms_ssim_pairs, seed),
        "ms_ssim_real": cache["ms_ssim"],
        "num_generated": int(len(generated)),
        "num_real": int(len(real)),
        "feature_network": feature_network.name,
        "feature_network_detail": describe(feature_network),
    })
    return report


def load_real_images(dataset, num, image_size, channels, seed=0, data_dir=None,
                     crop="center"):
    """Up to ``num`` real images ``[N, S, S, channels]`` in [-1, 1] for comparison.

    ``dataset`` is a ``tfbegan.data`` spec: ``mnist5k`` (a seeded random choice of
    the 5,000 embedded digits), ``folder:PATH`` or ``tfds:NAME[:SPLIT]`` (seeded
    shuffle, no repeat, tfds never downloads here). Grey images are repeated to
    RGB and RGB averaged to grey to match ``channels``.
    """
    from tfbegan import data as data_lib

    if isinstance(num, bool) or not isinstance(num, int) or num < 2:
        raise ValueError(f"num={num!r} must be an integer >= 2.")
    if dataset == "mnist5k":
        images, _ = data_lib.load_mnist5k(image_size)
        idx = np.random.default_rng(seed).permutation(len(images))[:num]
        x = np.array(images[idx], np.float32)
    else:
        config = data_lib.DataConfig(dataset=dataset, data_dir=data_dir, download=False,
                                     crop=crop, image_size=image_size)
        ds = data_lib.make_dataset(config, 1, seed=seed, shuffle=True, repeat=False)
        x = np.concatenate([b.numpy() for b in ds.take(num)], axis=0)
    return np.asarray(_to_channels(tf.constant(x), channels), np.float32)


def collapse_warning(report, margin=0.2):
    """A message when generated MS-SSIM exceeds the real images' by more than
    ``margin`` (samples much more alike than data: toward mode collapse), else
    None."""
    gen, real = report["ms_ssim_generated"], report["ms_ssim_real"]
    if gen - real > margin:
        return (f"possible mode collapse: MS-SSIM of generated samples {gen:.3f} "
                f"exceeds that of real images {real:.3f} by more than {margin}")
    return None


class QualityEvaluator(keras.callbacks.Callback):
    """Evaluates sample quality every ``every_n_steps`` training steps.

    Draws ``num_samples`` images with ``model.generate(num, seed=seed)`` (the same
    latents each time, so changes come from the generator), runs
    :func:`evaluate_images` against the fixed ``real_images`` and writes
    ``quality/fid``, ``quality/kid``, ``quality/is``, ``quality/ms_ssim_generated``
    and ``quality/ms_ssim_real`` TensorBoard scalars under ``<log_dir>/quality``.
    When ``warn_collapse`` is set it logs a warning (logger "tfbegan") when the
    generated MS-SSIM climbs more than ``collapse_margin`` above the real images'
    (:func:`collapse_warning`). Steps are the model's optimizer iterations, so a
    resumed run continues the numbering; evaluation happens when a multiple of
    ``every_n_steps`` is crossed (robust to ``steps_per_execution > 1``).

    Args:
      real_images: ``[N, H, W, C]`` in [-1, 1], the reference set.
      feature_network: a :class:`FeatureNetwork`.
      every_n_steps: period (> 0).
      num_samples: generated images per evaluation.
      log_dir: TensorBoard directory (None: only :attr:`history`).
      kid_subsets: KID subsets per evaluation (fewer than the CLI's 100: this runs
        inside training).

    Example:

    ```python
    real, _ = tfbegan.data.load_mnist5k(32)
    cb = QualityEvaluator(real[:1000], DigitClassifier.load(), every_n_steps=1000,
                          log_dir=workdir)
    model.fit(dataset, steps_per_epoch=10000, callbacks=[cb])
    ```
    """

    def __init__(self, real_images, feature_network, every_n_steps=1000,
                 num_samples=1000, seed=0, log_dir=None, warn_collapse=True,
                 collapse_margin=0.2, kid_subsets=10, kid_subset_size=1000,
                 ms_ssim_pairs=500):
        super().__init__()
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) \
                or every_n_steps <= 0:
            raise ValueError(f"every_n_steps={every_n_steps!r} must be an integer > 0.")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) \
                or num_samples < 2:
            raise ValueError(f"num_samples={num_samples!r} must be an integer >= 2.")
        self.real_images = np.asarray(real_images, np.float32)
        if self.real_images.ndim != 4 or len(self.real_images) < 2:
            raise ValueError(f"real_images must be [N >= 2, H, W, C], got shape "
                             f"{self.real_images.shape}.")
        self.feature_network = feature_network
        self.every_n_steps = every_n_steps
        self.num_samples = num_samples
        self.seed = seed
        self.log_dir = log_dir
        self.warn_collapse = warn_collapse
        self.collapse_margin = collapse_margin
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.ms_ssim_pairs = ms_ssim_pairs
        #: One report dict (plus ``step``) per evaluation.
        self.history = []
        self._real_cache = {}
        self._writer = None
        self._last_period = None

    def _step(self):
        from tfbegan.callbacks import global_step

        return global_step(self.model)

    def evaluate(self, step=None):
        """Evaluates now; logs and returns the report."""
        step = self._step() if step is None else int(step)
        generated = np.asarray(self.model.generate(self.num_samples, seed=self.seed))
        report = evaluate_images(generated, self.real_images, self.feature_network,
                                 kid_subsets=self.kid_subsets,
                                 kid_subset_size=self.kid_subset_size,
                                 ms_ssim_pairs=self.ms_ssim_pairs, seed=self.seed,
                                 real_cache=self._real_cache)
        report = {"step": step, **report}
        self.history.append(report)
        if self.warn_collapse:
            message = collapse_warning(report, self.collapse_margin)
            if message:
                logger.warning("step %d: %s.", step, message)
        if self.log_dir is not None:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(
                    os.path.join(self.log_dir, "quality"))
            with self._writer.as_default():
                for key in ("fid", "kid", "is", "ms_ssim_generated", "ms_ssim_real"):
                    if key in report:
                        tf.summary.scalar(f"quality/{key}", report[key], step=step)
            self._writer.flush()
        return report

    def on_train_begin(self, logs=None):
        self._last_period = self._step() // self.every_n_steps

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        period = step // self.every_n_steps
        if self._last_period is None or period > self._last_period:
            self._last_period = period
            self.evaluate(step)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
