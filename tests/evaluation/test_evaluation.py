"""FID, KID, IS, MS-SSIM diversity and feature networks (tfbegan/evaluation/sample_quality.py)."""

import logging
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.callbacks import quality
from tfbegan.evaluation import features, metrics
from tfbegan.evaluation import sample_quality as ev
from tfbegan.models import BEGAN


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.5 * np.eye(d)


def _sqrt_psd(m):
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


# ---------------------------------------------------------------------- FID
def test_fid_of_a_set_against_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(200, 16))
    assert metrics.fid(x, x) == pytest.approx(0.0, abs=1e-8)
    # Fewer samples than dimensions: singular covariance, still 0.
    y = np.random.default_rng(1).normal(size=(10, 32))
    assert metrics.fid(y, y) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_diagonal_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    # |mu1 - mu2|^2 + sum(a + b - 2 sqrt(a b)) = 5 + (1 + 1 + 6.25) = 13.25
    assert metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(
        13.25, abs=1e-9)
    # Scalar Gaussians: (m1 - m2)^2 + (s1 - s2)^2.
    assert metrics.frechet_distance([0.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(10.0)


def test_frechet_distance_non_commuting_covariances():
    rng = np.random.default_rng(3)
    s1, s2 = _spd(rng, 5), _spd(rng, 5)
    assert not np.allclose(s1 @ s2, s2 @ s1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    # Symmetric form tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), through eigh only.
    r = _sqrt_psd(s1)
    expected = (np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                - 2 * np.trace(_sqrt_psd(r @ s2 @ r)))
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_fid_from_samples_approaches_the_gaussian_closed_form():
    rng = np.random.default_rng(4)
    mu2 = np.array([0.5, -0.5, 0.0])
    s2 = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
    a = rng.normal(size=(20000, 3))
    b = rng.multivariate_normal(mu2, s2, size=20000)
    expected = metrics.frechet_distance(np.zeros(3), np.eye(3), mu2, s2)
    assert metrics.fid(a, b) == pytest.approx(expected, rel=0.03)


def test_frechet_distance_rejects_invalid_covariance():
    with pytest.raises(ValueError, match="imaginary"):
        metrics.frechet_distance([0.0, 0.0], np.diag([1.0, -1.0]), [0.0, 0.0], np.eye(2))
    with pytest.raises(ValueError, match="features_a"):
        metrics.fid(np.zeros((1, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="widths"):
        metrics.fid(np.zeros((4, 3)), np.zeros((4, 2)))


# ---------------------------------------------------------------------- KID
def test_mmd2_unbiased_hand_computed():
    # k(x, y) = (x y + 1)^3 in 1-d: k(0,1)=1, k(1,2)=27, k(0,2)=1, k(1,1)=8.
    # Kxx off-diagonal mean 1, Kyy 27, Kxy mean (1 + 1 + 8 + 27) / 4 = 9.25.
    assert metrics.mmd2_unbiased(np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]])) == \
        pytest.approx(1 + 27 - 2 * 9.25)
    mean, std = metrics.kid(np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]]), subsets=3)
    assert mean == pytest.approx(9.5) and std == pytest.approx(0.0)


def test_kid_is_unbiased_on_identical_distributions():
    rng = np.random.default_rng(5)
    d, m = 8, 20
    unbiased, biased = [], []
    for _ in range(300):
        x, y = rng.normal(size=(m, d)), rng.normal(size=(m, d))
        unbiased.append(metrics.mmd2_unbiased(x, y))
        # The V-statistic (diagonals kept) is biased upwards by ~(E k(x,x) - E k(x,y))
        # * 2 / m.
        kxx, kyy, kxy = (metrics.polynomial_kernel(p, q) for p, q in ((x, x), (y, y), (x, y)))
        biased.append(kxx.mean() + kyy.mean() - 2 * kxy.mean())
    unbiased, biased = np.array(unbiased), np.array(biased)
    se = unbiased.std() / np.sqrt(len(unbiased))
    assert abs(unbiased.mean()) < 3 * se
    assert biased.mean() > 10 * se
    # kid() itself: near 0 for two samples of one distribution, clearly positive for
    # shifted ones.
    a, b = rng.normal(size=(500, d)), rng.normal(size=(500, d))
    same, same_std = metrics.kid(a, b, subsets=20, subset_size=100)
    shifted, _ = metrics.kid(a, b + 1.0, subsets=20, subset_size=100)
    assert abs(same) < 0.05 and same_std > 0
    assert shifted > 1.0


# ---------------------------------------------------------------------- IS
def test_inception_score_constant_class_is_one():
    probs = np.zeros((50, 10))
    probs[:, 3] = 1.0
    mean, std = metrics.inception_score(probs, splits=5)
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0)
    # Identical soft predictions: also 1 (KL to the marginal is 0).
    assert metrics.inception_score(np.full((20, 4), 0.25), 2)[0] == pytest.approx(1.0)


def test_inception_score_even_confident_predictions_is_class_count():
    labels = np.arange(100) % 10  # every split of 10 holds each class once
    mean, std = metrics.inception_score(np.eye(10)[labels], splits=10)
    assert mean == pytest.approx(10.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    # Two classes, each image 0.75 sure: exp(KL) = exp(log 2 - H(0.75, 0.25)).
    p = np.array([[0.75, 0.25], [0.25, 0.75]] * 5)
    h = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert metrics.inception_score(p, 1)[0] == pytest.approx(np.exp(np.log(2) - h), rel=1e-9)
    with pytest.raises(ValueError, match="splits"):
        metrics.inception_score(p, 11)
    with pytest.raises(ValueError, match="probabilities"):
        metrics.inception_score(p * 2, 1)


# ---------------------------------------------------------------------- MS-SSIM
def test_ms_ssim_settings():
    weights, f = metrics.ms_ssim_settings(32)
    assert f == 7 and len(weights) == 3
    assert sum(weights) == pytest.approx(1.0)
    np.testing.assert_allclose(weights, np.array(metrics.MS_SSIM_WEIGHTS[:3]) / 0.6305)
    assert metrics.ms_ssim_settings(16)[1] == 3 and len(metrics.ms_ssim_settings(16)[0]) == 3
    assert metrics.ms_ssim_settings(256) == (tuple(np.array(metrics.MS_SSIM_WEIGHTS)
                                              / sum(metrics.MS_SSIM_WEIGHTS)), 11)
    assert len(metrics.ms_ssim_settings(8)[0]) == 2


def test_ms_ssim_diversity_identical_vs_varied():
    rng = np.random.default_rng(0)
    one = np.tile(rng.uniform(-1, 1, (1, 16, 16, 1)).astype(np.float32), (5, 1, 1, 1))
    assert metrics.ms_ssim_diversity(one, pairs=10) == pytest.approx(1.0, abs=1e-5)
    from tfbegan.data.mnist5k import load_mnist5k

    digits, labels = load_mnist5k(32)
    varied = metrics.ms_ssim_diversity(digits[::25], pairs=200)
    ones = metrics.ms_ssim_diversity(digits[labels == 1][:100], pairs=200)
    assert 0.05 < varied < ones < 1.0  # one class is less diverse than all ten
    with pytest.raises(ValueError, match="images"):
        metrics.ms_ssim_diversity(one[:1])


# ---------------------------------------------------------------------- networks
def test_inception_offline_message_without_weights(tmp_path):
    start = time.time()
    with pytest.raises(features.InceptionWeightsUnavailable) as info:
        features.InceptionFeatures(cache_dir=str(tmp_path))
    assert time.time() - start < 5  # no download attempt
    message = str(info.value)
    assert "--inception_weights=PATH" in message
    assert features.INCEPTION_WEIGHTS_URL in message
    assert str(tmp_path) in message and "--feature_net=digits" in message
    with pytest.raises(features.InceptionWeightsUnavailable, match="does not exist"):
        features.find_inception_weights(weights=str(tmp_path / "nope.h5"))
    # A file in the cache is found without any download.
    (tmp_path / features.INCEPTION_WEIGHTS_FILE).write_bytes(b"")
    assert features.find_inception_weights(cache_dir=str(tmp_path)) == str(
        tmp_path / features.INCEPTION_WEIGHTS_FILE)


def test_keras_cache_dir_follows_keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert features.keras_cache_dir() == os.path.join(str(tmp_path), "models")


@pytest.mark.large
def test_inception_features_from_a_weights_path(tmp_path):
    path = str(tmp_path / "inception.weights.h5")
    keras.applications.InceptionV3(weights=None).save_weights(path)
    net = features.InceptionFeatures(weights=path)
    f, p = net.features_and_probabilities(np.zeros((2, 32, 32, 1), np.float32))
    assert f.shape == (2, 2048) and p.shape == (2, 1000)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-4)


@pytest.fixture(scope="module")
def tiny_classifier():
    return features.DigitClassifier.train(image_size=16, epochs=3, max_train=1500, seed=0)


def test_digit_classifier_tiny_training_save_load(tiny_classifier, tmp_path):
    net = tiny_classifier
    # Held out: 1,000 embedded digits never trained on (0.831 measured).
    assert net.accuracy > 0.75
    assert "digit_classifier" in net.description and "not InceptionV3" in \
        net.description
    path = net.save(str(tmp_path / "clf.keras"))
    again = features.DigitClassifier.load(path)
    assert again.accuracy == net.accuracy and again.image_size == 16
    from tfbegan.data.mnist5k import load_mnist5k

    x, _ = load_mnist5k(32)  # other size: resized to 16 inside
    f1, p1 = net.features_and_probabilities(x[:8])
    f2, p2 = again.features_and_probabilities(np.repeat(x[:8], 3, axis=-1))
    assert f1.shape == (8, 64) and p1.shape == (8, 10)
    np.testing.assert_allclose(f1, f2, rtol=1e-5, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="--train_classifier"):
        features.DigitClassifier.load(str(tmp_path / "missing.keras"))


@pytest.mark.large
def test_digit_classifier_full_training_accuracy():
    net = features.DigitClassifier.train(image_size=32)
    assert net.accuracy >= 0.95


def test_split_digits_is_stratified_and_disjoint():
    labels = np.repeat(np.arange(10), 50)
    images = np.arange(500)
    tx, ty, vx, vy = features.split_digits(images, labels, held_out=0.2, seed=1)
    assert len(vx) == 100 and np.all(np.bincount(vy) == 10)
    assert not set(tx) & set(vx) and len(set(tx) | set(vx)) == 500


# ---------------------------------------------------------------------- reports
def _mean_features():
    return features.CallableFeatures(
        "pixel_stats",
        lambda x: tf.stack([tf.reduce_mean(x, [1, 2, 3]),
                            tf.math.reduce_std(x, [1, 2, 3])], axis=1),
        lambda x: tf.nn.softmax(tf.stack([tf.reduce_mean(x, [1, 2, 3]), -tf.reduce_mean(
            x, [1, 2, 3])], axis=1) * 10.0))


def test_evaluate_images_report():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (40, 16, 16, 1)).astype(np.float32)
    report = ev.evaluate_images(real, real, _mean_features(), kid_subsets=5,
                                kid_subset_size=20, is_splits=2, ms_ssim_pairs=20)
    assert report["feature_network"] == "pixel_stats"
    assert report["fid"] == pytest.approx(0.0, abs=1e-9)
    assert report["ms_ssim_generated"] == pytest.approx(report["ms_ssim_real"], abs=0.2)
    assert {"kid", "kid_std", "is", "is_std", "is_real", "num_generated",
            "num_real"} <= set(report)
    shifted = ev.evaluate_images(np.clip(real + 0.5, -1, 1), real, _mean_features(),
                                 kid_subsets=5, kid_subset_size=20, is_splits=2,
                                 ms_ssim_pairs=20)
    assert shifted["fid"] > 0.1
    no_probs = ev.evaluate_images(real, real, features.CallableFeatures(
        "flat", lambda x: tf.reshape(x, [tf.shape(x)[0], -1])[:, :8]), kid_subsets=2,
        kid_subset_size=10, ms_ssim_pairs=5)
    assert "is" not in no_probs
    with pytest.raises(ValueError, match="differ in shape"):
        ev.evaluate_images(real[:, :8], real, _mean_features())


def test_classifier_summary_hand_computed():
    p = np.array([[0.95, 0.05, 0.0],    # class 0, confident
                  [0.50, 0.40, 0.10],   # class 0, not confident
                  [0.00, 0.91, 0.09],   # class 1, confident
                  [0.10, 0.00, 0.90]])  # class 2, exactly 0.9: not confident
    summary = ev.classifier_summary(p)
    assert summary["confident_share"] == pytest.approx(0.5)
    assert summary["class_histogram"] == pytest.approx([0.5, 0.25, 0.25])
    assert ev.classifier_summary(p, threshold=0.45)["confident_share"] == 1.0
    # A class no sample falls in is still listed, with 0.
    assert ev.classifier_summary(np.eye(4)[[0, 0, 3]])["class_histogram"] == \
        pytest.approx([2 / 3, 0, 0, 1 / 3])
    with pytest.raises(ValueError, match="shape"):
        ev.classifier_summary(np.zeros((0, 3)))


def test_evaluate_images_reports_confidence_and_histogram():
    rng = np.random.default_rng(1)
    real = rng.uniform(-1, 1, (40, 16, 16, 1)).astype(np.float32)
    net = _mean_features()
    report = ev.evaluate_images(real, real, net, kid_subsets=2, kid_subset_size=10,
                                is_splits=2, ms_ssim_pairs=5)
    expected = ev.classifier_summary(net.probabilities(real))
    assert report["confident_share"] == pytest.approx(expected["confident_share"])
    assert report["class_histogram"] == pytest.approx(expected["class_histogram"])
    assert sum(report["class_histogram"]) == pytest.approx(1.0)
    many = features.CallableFeatures("many", lambda x: tf.reshape(x, [tf.shape(x)[0], -1])[:, :4],
                               lambda x: tf.fill([tf.shape(x)[0], 30], 1 / 30))
    wide = ev.evaluate_images(real, real, many, kid_subsets=2, kid_subset_size=10,
                              is_splits=2, ms_ssim_pairs=5)
    assert wide["confident_share"] == 0.0 and "class_histogram" not in wide


def test_collapse_warning():
    assert ev.collapse_warning({"ms_ssim_generated": 0.3, "ms_ssim_real": 0.25}) is None
    msg = ev.collapse_warning({"ms_ssim_generated": 0.8, "ms_ssim_real": 0.25})
    assert "mode collapse" in msg and "0.800" in msg


def test_quality_evaluator_callback(tmp_path, caplog):

    keras.utils.set_random_seed(0)
    model = BEGAN(image_size=8, channels=1, filters=4, repeats=1, z_dim=4,
                          h_dim=4)
    model.compile(**model.make_optimizers(1e-4, 0.5))
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (16, 8, 8, 1)).astype(np.float32)
    cb = quality.QualityEvaluator(real, _mean_features(), every_n_steps=2, num_samples=8,
                             log_dir=str(tmp_path), collapse_margin=-1.0,
                             kid_subset_size=8, ms_ssim_pairs=8)
    with caplog.at_level(logging.WARNING, logger="tfbegan"):
        model.fit(tf.data.Dataset.from_tensor_slices(real).batch(4).repeat(), epochs=1,
                  steps_per_epoch=4, verbose=0, callbacks=[cb])
    assert [r["step"] for r in cb.history] == [2, 4]
    assert all(r["feature_network"] == "pixel_stats" for r in cb.history)
    # The real set is scored once and reused.
    assert cb.history[0]["ms_ssim_real"] == cb.history[1]["ms_ssim_real"]
    assert "mode collapse" in caplog.text  # margin -1 always warns
    events = os.listdir(tmp_path / "quality")
    assert any(name.startswith("events.out.tfevents") for name in events)
    with pytest.raises(ValueError, match="every_n_steps"):
        quality.QualityEvaluator(real, _mean_features(), every_n_steps=0)


def test_evaluate_images_reports_swd_and_precision_recall():
    real = np.random.default_rng(6).uniform(-1, 1, (12, 16, 16, 3)).astype(np.float32)
    net = features.CallableFeatures(
        "pixel_stats", lambda x: tf.stack([tf.reduce_mean(x, [1, 2, 3]),
                                           tf.math.reduce_std(x, [1, 2, 3])], axis=1))
    same = ev.evaluate_images(real, real, net, kid_subsets=2, kid_subset_size=6,
                              ms_ssim_pairs=5)
    # Identical sets: SWD 0 at the one 16 px level, every sample inside the other
    # set's manifold. The far set's (mean, std) ~ (0.8, 0.06) lies ~0.9 from the real
    # cluster around (0, 0.58), far beyond its k-NN radii (~0.03).
    assert same["swd_16"] == 0.0 and same["swd"] == 0.0
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    far = ev.evaluate_images(np.clip(real * 0.1 + 0.8, -1, 1), real, net, kid_subsets=2,
                             kid_subset_size=6, ms_ssim_pairs=5)
    assert far["precision"] == 0.0 and far["recall"] == 0.0 and far["swd"] > 0
    off = ev.evaluate_images(real, real, net, kid_subsets=2, kid_subset_size=6,
                             ms_ssim_pairs=5, swd_on=False, precision_recall_on=False)
    assert not {"swd", "swd_16", "precision", "recall"} & set(off)


def test_real_floors_of_one_set_against_itself_and_reuse_of_the_cache():
    rng = np.random.default_rng(7)
    real = rng.uniform(-1, 1, (10, 16, 16, 1)).astype(np.float32)
    other = rng.uniform(-1, 1, (10, 16, 16, 1)).astype(np.float32)
    net = _mean_features()
    floors = ev.real_floors(real, real, net, kid_subsets=2, kid_subset_size=5)
    assert floors["fid_floor"] == pytest.approx(0.0, abs=1e-9)
    assert floors["swd_floor"] == 0.0 and floors["swd_16_floor"] == 0.0
    assert floors["precision_floor"] == 1.0 and floors["recall_floor"] == 1.0
    assert floors["num_floor"] == 10 and "kid_std_floor" in floors
    cache = {}
    report = ev.evaluate_images(other, real, net, kid_subsets=2, kid_subset_size=5,
                                is_splits=2, ms_ssim_pairs=5, real_cache=cache)
    floors = ev.real_floors(real, other, net, kid_subsets=2, kid_subset_size=5,
                            real_cache=cache)
    # The floor of (real, other) is the model report with other as the generator.
    for key in ("fid", "kid", "swd", "precision", "recall"):
        assert floors[f"{key}_floor"] == pytest.approx(report[key])
