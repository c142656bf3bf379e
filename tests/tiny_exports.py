"""Tiny exported generators (8x8 grey by default) shared by the CLI, attribute and
signature-check tests."""

import os

import keras

from tfbegan import models
from tfbegan.serving import export, limits


def export_tiny(directory, model_class, seed, image_size=8,
                max_batch=limits.DEFAULT_MAX_BATCH, **sizes):
    """Exports a fresh ``tfbegan.models.<model_class>`` (``image_size`` square, one
    channel) seeded with ``seed`` under ``<directory>/<model_class in lower case>``,
    with the signatures' batch cap ``max_batch``.

    Returns ``(model, base, version_dir)``: the model, the export base path and the
    version directory ``export_generator`` wrote.
    """
    keras.utils.set_random_seed(seed)
    model = getattr(models, model_class)(image_size=image_size, channels=1, repeats=1,
                                         **sizes)
    base = os.path.join(str(directory), model_class.lower())
    return model, base, export.export_generator(model, base, max_batch=max_batch)
