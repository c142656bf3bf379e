"""Tiny exported generators (8x8 grey) shared by the CLI and attribute tests."""

import os

import keras

from tfbegan import models
from tfbegan.serving import export


def export_tiny(directory, model_class, seed, **sizes):
    """Exports a fresh ``tfbegan.models.<model_class>`` seeded with ``seed`` under
    ``<directory>/<model_class in lower case>``.

    Returns ``(model, base, version_dir)``: the model, the export base path and the
    version directory ``export_generator`` wrote.
    """
    keras.utils.set_random_seed(seed)
    model = getattr(models, model_class)(image_size=8, channels=1, repeats=1, **sizes)
    base = os.path.join(str(directory), model_class.lower())
    return model, base, export.export_generator(model, base)
