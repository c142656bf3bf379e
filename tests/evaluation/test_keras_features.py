"""A user's Keras classifier as the feature network (tfbegan/evaluation/keras_features.py)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.evaluation import sample_quality
from tfbegan.evaluation.keras_features import KerasClassifierFeatures


def _classifier(softmax_layer=False, channels=3, classes=3):
    inputs = keras.Input((8, 8, channels))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(5, activation="relu", name="penultimate")(x)
    if softmax_layer:
        x = keras.layers.Softmax()(keras.layers.Dense(classes)(x))
    else:
        x = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("softmax_layer", [False, True])
def test_features_are_the_penultimate_layer(tmp_path, softmax_layer):
    model = _classifier(softmax_layer)
    path = str(tmp_path / "clf.keras")
    model.save(path)
    with open(path + ".json", "w") as f:
        json.dump({"accuracy": 0.75, "classes": ["a", "b", "c"]}, f)
    net = KerasClassifierFeatures(path)
    images = np.random.default_rng(0).uniform(-1, 1, (6, 16, 16, 1)).astype(np.float32)
    feats, probs = net.features_and_probabilities(images)
    # Grey 16 px images are brought to the model's 8 px RGB input.
    x = tf.image.resize(tf.repeat(images, 3, axis=-1), (8, 8), antialias=True)
    penultimate = keras.Model(model.inputs, model.get_layer("penultimate").output)
    np.testing.assert_allclose(feats, penultimate(x), atol=1e-4)
    np.testing.assert_allclose(probs, model(x), atol=1e-5)
    assert feats.shape == (6, 5) and net.num_classes == 3
    assert net.class_names == ["a", "b", "c"]
    assert "3 classes, 5-d penultimate features" in net.description
    assert "held-out accuracy 0.7500" in net.description
    report = sample_quality.evaluate_images(images, images, net, kid_subsets=2,
                                            kid_subset_size=4, is_splits=2,
                                            ms_ssim_pairs=4)
    assert len(report["class_histogram"]) == 3
    assert report["class_names"] == ["a", "b", "c"]


def test_one_line_errors_name_the_file(tmp_path):
    missing = str(tmp_path / "missing.keras")
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        KerasClassifierFeatures(missing)
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a keras file")
    with pytest.raises(ValueError, match="cannot read feature model .*garbage.keras"):
        KerasClassifierFeatures(str(garbage))
    inputs = keras.Input((8, 8, 1))
    regressor = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    path = str(tmp_path / "regressor.keras")
    regressor.save(path)
    with pytest.raises(ValueError, match="regressor.keras.* is not a classifier"):
        KerasClassifierFeatures(path)
    one_class = str(tmp_path / "one.keras")
    _classifier(classes=1).save(one_class)
    with pytest.raises(ValueError, match="one.keras.* is not an image classifier"):
        KerasClassifierFeatures(one_class)
