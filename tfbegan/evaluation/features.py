"""Feature networks for the sample-quality metrics (:mod:`tfbegan.evaluation.metrics`).

A :class:`FeatureNetwork` maps images in [-1, 1] to features (FID, KID) and
optionally class probabilities (Inception Score):

* :class:`InceptionFeatures`: InceptionV3 from ``keras.applications`` with ImageNet
  weights (2048-d ``avg_pool`` features, 1000-way softmax; Szegedy et al. 2016).
  Offline, the weights must already be in the Keras cache or be given as a path;
  nothing is downloaded unless asked for.
* :class:`DigitClassifier`: a small CNN trained on the 5,000 embedded MNIST digits
  (``tfbegan.data.pipeline.load_mnist5k``): 64-d penultimate features, 10-way softmax. It
  makes the metrics computable offline for digit models; its numbers are *not*
  comparable with Inception-based FID/IS in the literature, so every report names
  the network (:attr:`FeatureNetwork.name`). :meth:`DigitClassifier.load_or_train`
  trains and caches it on first use.
* :class:`CallableFeatures`: any user function ``images -> features``.

Inputs are brought to each network's size and channels with :func:`tfbegan.imaging.resize`
and :func:`tfbegan.imaging.match_channels`.
"""

from __future__ import annotations

import json
import logging
import os

import keras
import numpy as np
import tensorflow as tf

from tfbegan import imaging

logger = logging.getLogger("tfbegan")

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
        x = imaging.resize(imaging.match_channels(images, 3), 299)
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
    (``image_size`` squared, grey: :func:`tfbegan.imaging.resize`, BT.601 luma).
    Build one with :meth:`train` (saved with :meth:`save`), :meth:`load`, or
    :meth:`load_or_train` (trains and caches it on first use).

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
        from tfbegan.data.mnist5k import load_mnist5k

        images, labels = load_mnist5k(image_size)
        tx, ty, vx, vy = split_digits(images, labels, held_out, seed)
        if max_train:
            tx, ty = tx[:max_train], ty[:max_train]
        # Seeded initializers and a seeded shuffle: deterministic without touching
        # the process's global random state.
        model = build_digit_classifier(image_size, seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        batches = (tf.data.Dataset.from_tensor_slices((tx, ty))
                   .shuffle(len(tx), seed=seed, reshuffle_each_iteration=True)
                   .batch(batch_size))
        model.fit(batches, epochs=epochs, verbose=verbose)
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
                f"`tfbegan-evaluate --train_classifier` or "
                f"DigitClassifier.load_or_train (or pass --classifier_path).")
        model = keras.saving.load_model(path, compile=False)
        accuracy = None
        if os.path.isfile(path + ".json"):
            with open(path + ".json") as f:
                accuracy = json.load(f).get("accuracy")
        return cls(model, accuracy=accuracy, path=path)

    @classmethod
    def load_or_train(cls, path=None, image_size=32, epochs=3, seed=0, **train_kwargs):
        """The classifier at ``path`` (default :func:`default_classifier_path`); when
        there is none, trains one with :meth:`train` (offline and deterministic for a
        ``seed``: the embedded digits, about 6 s on one CPU core at 32x32), saves it at
        ``path`` and logs that it did, so later calls only load it.

        ``train_kwargs`` go to :meth:`train` (e.g. ``max_train``).
        """
        path = path or default_classifier_path(image_size)
        if os.path.isfile(path):
            return cls.load(path, image_size)
        logger.warning("no digit classifier at %s; training it once on the embedded "
                       "digits (a few seconds), cached there for next time.", path)
        net = cls.train(image_size, epochs=epochs, seed=seed, **train_kwargs)
        net.save(path)
        logger.warning("digit classifier trained (held-out accuracy %.4f) and saved to "
                       "%s.", net.accuracy, path)
        return net

    def _outputs(self, images):
        x = imaging.resize(imaging.match_channels(images, 1), self.image_size)
        f, p = self._model(x, training=False)
        return f, p


def describe(network):
    """The feature network's name plus details, as reports print it."""
    return getattr(network, "description", None) or network.name
