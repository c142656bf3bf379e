"""Any Keras classifier file as the feature network: offline metrics for any images.

:class:`KerasClassifierFeatures` reads a ``.keras`` classifier whose output is class
probabilities (a final softmax) and uses, as the Inception network's pool_3 layer is
used for FID (Heusel et al. 2017):

* features (FID, KID, precision/recall): the output of the penultimate layer, i.e.
  the input of the final ``Dense`` layer (the one whose softmax gives the
  probabilities, either as its activation or as a ``Softmax`` / ``Activation``
  layer right after it);
* probabilities (IS, confident share, class histogram): the model's output.

The model is fed tfbegan's images as they are, in [-1, 1], resized to its input size
(when it has a fixed one) and with its input channels (:func:`tfbegan.imaging.resize`,
:func:`tfbegan.imaging.match_channels`): put other preprocessing inside the model
(e.g. a ``Rescaling`` layer). A ``PATH.json`` file beside it, when present, may give
``accuracy`` (held-out, shown in reports) and ``classes`` (class names, reported as
``class_names``); ``benchmarks/emoji_classifier.py`` writes both.
"""

from __future__ import annotations

import json
import os

import keras

from tfbegan import imaging
from tfbegan.evaluation.features import FeatureNetwork


def _softmax_head(model, path):
    """The final Dense layer whose softmax gives the model's output, or ValueError."""
    layers = model.layers
    last = layers[-1] if layers else None
    if isinstance(last, keras.layers.Dense) and _is_softmax(last.activation):
        return last
    if (isinstance(last, keras.layers.Softmax)
            or (isinstance(last, keras.layers.Activation) and _is_softmax(last.activation))):
        if len(layers) >= 2 and isinstance(layers[-2], keras.layers.Dense):
            return layers[-2]
    raise ValueError(f"feature model {path!r} is not a classifier: its last layer "
                     f"({type(last).__name__}) must be a softmax Dense layer or a softmax "
                     f"after a Dense layer, giving class probabilities.")


def _is_softmax(activation):
    return getattr(activation, "__name__", "") == "softmax"


def _sidecar(path):
    try:
        with open(path + ".json") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def load_classifier(path):
    """The Keras model at ``path``; one-line errors when it is missing or unreadable."""
    path = os.fspath(path or "")
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f"feature model {path!r} does not exist; pass the path "
                                f"of a .keras classifier.")
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as e:  # any failure means the file is unusable
        reason = " ".join(str(e).split())[:200]
        raise ValueError(f"cannot read feature model {path!r} as a Keras model: "
                         f"{type(e).__name__}: {reason}") from None


class KerasClassifierFeatures(FeatureNetwork):
    """A user's Keras classifier as a :class:`FeatureNetwork` (module docstring).

    Args:
      path: a ``.keras`` file whose model maps ``[N, H, W, 1 or 3]`` images in
        [-1, 1] to ``[N, C >= 2]`` softmax probabilities.

    Attributes:
      path, num_classes, feature_dim, image_size (None: any), channels,
      accuracy (from ``PATH.json``, or None), class_names (list, or None).
    """

    name = "keras_classifier"
    has_probabilities = True

    def __init__(self, path):
        model = load_classifier(path)
        head = _softmax_head(model, path)
        shape = tuple(model.input_shape)
        out = tuple(model.output_shape)
        if len(shape) != 4 or shape[-1] not in (1, 3) or len(out) != 2 or not out[1] \
                or out[1] < 2:
            raise ValueError(f"feature model {path!r} is not an image classifier: input "
                             f"{shape} must be [N, H, W, 1 or 3] and output {out} "
                             f"[N, C >= 2].")
        self.path = os.fspath(path)
        self.num_classes = int(out[1])
        self.image_size = shape[1] if shape[1] == shape[2] else None
        self.channels = int(shape[-1])
        self.feature_dim = int(head.input.shape[-1])
        info = _sidecar(self.path)
        self.accuracy = info.get("accuracy")
        classes = info.get("classes")
        self.class_names = ([str(c) for c in classes]
                            if isinstance(classes, list)
                            and len(classes) == self.num_classes else None)
        self._model = keras.Model(model.inputs, [head.input, model.output])

    @property
    def description(self):
        size = f"{self.image_size}x{self.image_size}" if self.image_size else "any size"
        acc = ("" if self.accuracy is None
               else f", held-out accuracy {float(self.accuracy):.4f}")
        return (f"{self.name} ({os.path.basename(self.path)}: {self.num_classes} "
                f"classes, {self.feature_dim}-d penultimate features, {size} x "
                f"{self.channels} input{acc})")

    def _outputs(self, images):
        x = imaging.match_channels(images, self.channels)
        if self.image_size:
            x = imaging.resize(x, self.image_size)
        f, p = self._model(x, training=False)
        return f, p
