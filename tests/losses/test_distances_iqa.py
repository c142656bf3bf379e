"""Vertolli & Davies 2017's image-quality distances: hand-computed values on tiny images."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan import imaging
from tfbegan.losses import distances as D
from tfbegan.models import BEGAN

C = 0.0026  # Vertolli & Davies 2017 footnote 2
ALL_NAMES = ("l1", "l2", "gmsm", "gmsm_prewitt", "chrom")


def unit_to_model(x01):
    """[0, 1] -> [-1, 1], the model's range the distances take."""
    return np.asarray(x01, np.float32) * 2.0 - 1.0


def constant(rgb01, size=4):
    rgb01 = np.asarray(rgb01, np.float32)
    return unit_to_model(np.broadcast_to(rgb01, (1, size, size, rgb01.size)))


def random_pair(shape=(3, 8, 8, 3), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, shape).astype(np.float32),
            rng.uniform(-1, 1, shape).astype(np.float32))


def numpy_sobel_magnitude(y):
    """Independent reference: normalised Sobel (/4) with reflect padding, [H, W]."""
    p = np.pad(y, 1, mode="reflect")
    h, w = y.shape
    win = lambda di, dj: p[1 + di:1 + di + h, 1 + dj:1 + dj + w]  # noqa: E731
    gx = (win(-1, 1) + 2 * win(0, 1) + win(1, 1) - win(-1, -1) - 2 * win(0, -1)
          - win(1, -1)) / 4.0
    gy = (win(1, -1) + 2 * win(1, 0) + win(1, 1) - win(-1, -1) - 2 * win(-1, 0)
          - win(-1, 1)) / 4.0
    return np.sqrt(gx ** 2 + gy ** 2)


# ------------------------------------------------------------------ hand values
def test_identical_images_give_zero_for_every_distance():
    x, _ = random_pair()
    for name in ALL_NAMES:
        np.testing.assert_allclose(D.DISTANCES[name](x, x).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(D.make_distance("l1:2,gmsm:1,chrom:1")(x, x), 0.0,
                               atol=1e-6)


def test_grey_constant_vs_brightness_shift():
    v, r = constant([0.2]), constant([0.5])  # grey 0.2 vs 0.5 in [0, 1]
    np.testing.assert_allclose(D.l1_distance(v, r), [0.3], atol=1e-6)
    np.testing.assert_allclose(D.l2_distance(v, r), [0.09], atol=1e-6)
    # Both flat: m = 0 everywhere, GMS = C / C = 1.
    np.testing.assert_allclose(D.gmsm_distance(v, r), [0.0], atol=1e-7)


def test_colour_constant_vs_equal_shift_keeps_chroma():
    # Adding the same 0.1 to R, G and B changes Y by 0.1 and I, Q by 0 (rows sum 0).
    v, r = constant([0.6, 0.4, 0.2]), constant([0.7, 0.5, 0.3])
    np.testing.assert_allclose(D.l1_distance(v, r), [0.1], atol=1e-6)
    np.testing.assert_allclose(D.l2_distance(v, r), [0.01], atol=1e-6)
    np.testing.assert_allclose(D.chrominance_distance(v, r), [0.0], atol=1e-6)
    np.testing.assert_allclose(D.gmsm_distance(v, r), [0.0], atol=1e-7)


def test_red_vs_dark_red_chrominance_by_hand():
    v, r = constant([1.0, 0.0, 0.0]), constant([0.5, 0.0, 0.0])
    i_v, i_r = 0.596, 0.298  # I of pure red and of half red
    q_v, q_r = 0.211, 0.1055
    s_i = (2 * i_v * i_r + C) / (i_v ** 2 + i_r ** 2 + C)
    s_q = (2 * q_v * q_r + C) / (q_v ** 2 + q_r ** 2 + C)
    np.testing.assert_allclose(D.chrominance_distance(v, r), [1 - s_i * s_q], rtol=1e-5)
    np.testing.assert_allclose(D.l1_distance(v, r), [0.5 / 3], rtol=1e-6)
    assert 0.1 < 1 - s_i * s_q < 0.5  # a real, not degenerate, value (~0.36)


def edge_and_blur(rows=6):
    edge = np.tile([0, 0, 0, 1, 1, 1], (rows, 1)).astype(np.float32)
    blur = np.tile([0, 0, 1 / 3, 2 / 3, 1, 1], (rows, 1)).astype(np.float32)
    return edge, blur


def test_vertical_edge_vs_blurred_copy_gmsm_by_hand():
    edge, blur = edge_and_blur()
    # Rows are equal, so gy = 0 and gx is the central difference x[j+1] - x[j-1]
    # (Sobel / 4 sums its column weights to 1), reflect padding at the borders:
    m_e = [0, 0, 1, 1, 0, 0]
    m_b = [0, 1 / 3, 2 / 3, 2 / 3, 1 / 3, 0]
    gms = [(2 * a * b + C) / (a * a + b * b + C) for a, b in zip(m_e, m_b, strict=True)]
    expected = 1 - sum(gms) / 6  # = 0.35131
    assert abs(expected - 0.35131) < 1e-4
    grey = D.gmsm_distance(unit_to_model(edge)[None, ..., None],
                           unit_to_model(blur)[None, ..., None])
    np.testing.assert_allclose(grey, [expected], rtol=1e-5)
    # R = G = B gives Y = grey value: the RGB version agrees.
    rgb = D.gmsm_distance(unit_to_model(np.repeat(edge[None, ..., None], 3, -1)),
                          unit_to_model(np.repeat(blur[None, ..., None], 3, -1)))
    np.testing.assert_allclose(rgb, [expected], rtol=1e-5)
    # Prewitt / 3 also reduces to the central difference on constant columns.
    prewitt = D.gmsm_distance(unit_to_model(edge)[None, ..., None],
                              unit_to_model(blur)[None, ..., None], operator="prewitt")
    np.testing.assert_allclose(prewitt, [expected], rtol=1e-5)


def test_sobel_magnitude_matches_numpy_and_tf_sobel_edges():
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 1, (2, 7, 9, 1)).astype(np.float32)
    m = D.gradient_magnitude(y).numpy()
    edges = tf.image.sobel_edges(tf.constant(y)).numpy()  # [B, H, W, 1, (dy, dx)], unnormalised
    np.testing.assert_allclose(m, np.sqrt((edges ** 2).sum(-1))[..., 0] / 4, atol=1e-6)
    for b in range(2):
        np.testing.assert_allclose(m[b], numpy_sobel_magnitude(y[b, ..., 0]), atol=1e-6)


def test_prewitt_differs_from_sobel_on_a_dot():
    y = np.zeros((1, 5, 5, 1), np.float32)
    y[0, 2, 2, 0] = 1.0
    sobel = D.gradient_magnitude(y).numpy()[0]
    prewitt = D.gradient_magnitude(y, "prewitt").numpy()[0]
    # Diagonal neighbour (1, 1): Sobel gx = gy = -1/4, Prewitt gx = gy = -1/3.
    np.testing.assert_allclose(sobel[1, 1], math.sqrt(2) / 4, rtol=1e-6)
    np.testing.assert_allclose(prewitt[1, 1], math.sqrt(2) / 3, rtol=1e-6)
    # Direct neighbour (1, 2): Sobel gy = -2/4, Prewitt gy = -1/3.
    np.testing.assert_allclose(sobel[1, 2], 0.5, rtol=1e-6)
    np.testing.assert_allclose(prewitt[1, 2], 1 / 3, rtol=1e-6)


def test_yiq_of_pure_red_green_blue_are_the_matrix_columns():
    yiq = D.rgb_to_yiq(np.eye(3, dtype=np.float32)).numpy()  # rows: R, G, B
    np.testing.assert_allclose(yiq[0], [0.299, 0.596, 0.211], atol=1e-7)
    np.testing.assert_allclose(yiq[1], [0.587, -0.274, -0.523], atol=1e-7)
    np.testing.assert_allclose(yiq[2], [0.114, -0.322, 0.312], atol=1e-7)
    # White has Y = 1 and no chroma.
    np.testing.assert_allclose(D.rgb_to_yiq(np.ones((1, 3), np.float32)), [[1, 0, 0]],
                               atol=1e-6)


def test_weighted_combination_normalises_by_betas():
    x, y = random_pair()
    l1 = D.l1_distance(x, y).numpy()
    gmsm = D.gmsm_distance(x, y).numpy()
    chrom = D.chrominance_distance(x, y).numpy()
    np.testing.assert_allclose(D.make_distance("l1:2,gmsm:1")(x, y), (2 * l1 + gmsm) / 3,
                               rtol=1e-5)
    np.testing.assert_allclose(D.make_distance({"l1": 4, "gmsm": 2})(x, y),
                               (2 * l1 + gmsm) / 3, rtol=1e-5)
    np.testing.assert_allclose(D.make_distance("gmsm:5")(x, y), gmsm, rtol=1e-6)
    np.testing.assert_allclose(D.weighted_distance(x, y, "l1:1,gmsm:1,chrom:2"),
                               (l1 + gmsm + 2 * chrom) / 4, rtol=1e-5)


def test_symmetry_and_bounds_on_random_images():
    for seed in range(3):
        x, y = random_pair(seed=seed)
        for name in ALL_NAMES:
            d_xy = D.DISTANCES[name](x, y).numpy()
            np.testing.assert_allclose(d_xy, D.DISTANCES[name](y, x), atol=1e-6)
            upper = 2.0 if name == "chrom" else 1.0  # signed chroma: see distances.py
            assert np.all(d_xy >= 0) and np.all(d_xy <= upper), (name, d_xy)
            assert np.all(d_xy > 1e-3), (name, d_xy)  # random pairs are not similar


def test_chrominance_can_exceed_one_for_opposite_hues():
    # Red vs blue: I flips sign (S_I < 0) while Q keeps it (S_Q > 0), so the mean
    # product is negative and the distance is above 1 (signed chroma, Eq. 4).
    v, r = constant([1.0, 0.0, 0.0]), constant([0.0, 0.0, 1.0])
    i_v, q_v = 0.596, 0.211
    i_r, q_r = -0.322, 0.312
    s_i = (2 * i_v * i_r + C) / (i_v ** 2 + i_r ** 2 + C)
    s_q = (2 * q_v * q_r + C) / (q_v ** 2 + q_r ** 2 + C)
    assert 1 - s_i * s_q > 1.5
    np.testing.assert_allclose(D.chrominance_distance(v, r), [1 - s_i * s_q], rtol=1e-5)


def test_finite_gradients_on_flat_images():
    # Black and mid-grey give gradient magnitudes of exactly 0 (other constants can
    # leave ~1e-8 of rounding), so these exercise sqrt at 0, where tf.sqrt's
    # gradient is NaN.
    flat_a = tf.constant(constant([0.0, 0.0, 0.0]))
    flat_b = tf.Variable(constant([0.5, 0.5, 0.5]))
    for img in (flat_a, flat_b):
        m = D.gradient_magnitude(D.luminance(imaging.to_zero_one(tf.convert_to_tensor(img))))
        assert np.all(m.numpy() == 0.0)
    edge, _ = edge_and_blur(4)
    edged = tf.constant(unit_to_model(np.repeat(edge[None, :, :4, None], 3, -1)))
    for name in ALL_NAMES + ("l1:2,gmsm:1,chrom:1",):
        fn = D.make_distance(name)
        for target in (flat_a, edged, flat_b):
            with tf.GradientTape() as tape:
                d = tf.reduce_sum(fn(target, flat_b))
            grad = tape.gradient(d, flat_b)
            assert grad is not None
            assert np.all(np.isfinite(grad.numpy())), (name, grad)


def test_safe_sqrt_gradient_at_zero():
    x = tf.Variable([0.0, 4.0])
    with tf.GradientTape() as tape:
        naive = tf.reduce_sum(tf.sqrt(tf.square(x)))
    assert np.isnan(tape.gradient(naive, x).numpy()[0])  # why the guard exists
    with tf.GradientTape() as tape:
        y = D.gradient_magnitude(tf.zeros([1, 3, 3, 1]) + x[0])
        safe = tf.reduce_sum(y) + tf.reduce_sum(D._safe_sqrt(tf.square(x)))
    np.testing.assert_allclose(tape.gradient(safe, x).numpy(), [0.0, 1.0])


def test_gmsm_gradient_is_nonzero_and_correct_sign_off_flat_points():
    edge, blur = edge_and_blur()
    v = tf.constant(unit_to_model(edge)[None, ..., None])
    r = tf.Variable(unit_to_model(blur)[None, ..., None])
    with tf.GradientTape() as tape:
        d = D.gmsm_distance(v, r)[0]
    grad = tape.gradient(d, r)
    assert np.all(np.isfinite(grad.numpy())) and np.abs(grad.numpy()).max() > 0
    r.assign_sub(0.05 * grad / tf.reduce_max(tf.abs(grad)))
    assert D.gmsm_distance(v, r)[0] < d  # a gradient step reduces the distance


# ------------------------------------------------------------------ specs
def test_canonical_specs():
    assert D.canonical_distance_spec(None) is None
    assert D.canonical_distance_spec({"gmsm": 1, "l1": 2}) == "l1:2,gmsm:1"
    assert D.canonical_distance_spec(" Chrominance:0.5, l1 ") == "l1:1,chrom:0.5"
    assert D.canonical_distance_spec("l1:1,gmsm:0,chrom:0") == "l1:1"
    assert D.make_distance("gmsm:1,l1:2").spec == "l1:2,gmsm:1"
    assert D.make_distance(None).spec is None
    # chrom with beta 0 is dropped, so grey images are fine.
    assert D.make_distance("l1:1,chrom:0", channels=1).spec == "l1:1"


@pytest.mark.parametrize("spec, words", [
    ("l3:1", "unknown distance 'l3'"),
    ({"ssim": 1}, "unknown distance 'ssim'"),
    ("l1:-1", "betas must be finite and >= 0"),
    ({"l1": 1, "gmsm": -0.5}, "betas must be finite and >= 0"),
    ("l1:0,gmsm:0", "all zero"),
    ({}, "all zero"),
    ("l1:nan", "finite"),
    ("l1:two", "not a number"),
    ("l1:1,,gmsm:1", "empty entry"),
    ("l1:1,l1:2", "names 'l1' twice"),
    ({"l1": True}, "must be a number"),
    (3, "must be None, a string"),
])
def test_bad_specs_raise_value_error(spec, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        D.make_distance(spec)


def test_chrominance_on_one_channel_is_rejected():
    with pytest.raises(ValueError, match="chrominance.*3-channel.*channels=1"):
        D.make_distance("l1:1,chrom:1", channels=1)
    grey = constant([0.5])
    with pytest.raises(ValueError, match="chrominance needs 3-channel"):
        D.chrominance_distance(grey, grey)
    with pytest.raises(ValueError, match="chrominance"):
        BEGAN(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4,
                      distance={"chrom": 1})


def test_eta_two_with_a_spec_is_rejected():
    with pytest.raises(ValueError, match="eta=2 applies only"):
        D.make_distance("l1:1", eta=2)


# ------------------------------------------------------------------ BEGAN
def tiny_began(**kwargs):
    args = dict(image_size=8, channels=3, filters=4, repeats=1, z_dim=4, h_dim=4,
                gamma=0.5, lambda_k=0.1, k_init=0.5, seed=3)
    args.update(kwargs)
    model = BEGAN(**args)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    return model


def image_dataset(n=8, batch=4, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    x = np.tanh(rng.normal(size=(n, 8, 8, channels))).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(x).batch(batch, drop_remainder=True), x


def test_began_trains_with_l1_gmsm_and_moves_k():
    model = tiny_began(distance="l1:2,gmsm:1")
    assert model.get_config()["distance"] == "l1:2,gmsm:1"
    ds, x = image_dataset()
    hist = model.fit(ds.repeat(), steps_per_epoch=1, epochs=1, verbose=0).history
    lr, lf = hist["loss_real"][0], hist["loss_fake"][0]
    assert np.isfinite(lr) and np.isfinite(lf) and 0 < lr < 1 and 0 < lf < 1
    k1 = float(model.k.numpy())
    np.testing.assert_allclose(k1, 0.5 + 0.1 * (0.5 * lr - lf), atol=1e-6)
    assert abs(k1 - 0.5) > 1e-4
    hist = model.fit(ds.repeat(), steps_per_epoch=2, epochs=1, verbose=0).history
    assert np.isfinite(hist["d_loss"][0])
    assert float(model.k.numpy()) != k1
    # The loss the model trains on is Eq. 6 on its own reconstructions.
    recon = model.reconstruct(x[:4])
    expected = (2 * D.l1_distance(x[:4], recon) + D.gmsm_distance(x[:4], recon)) / 3
    np.testing.assert_allclose(model.distance(x[:4], recon), expected, rtol=1e-5)


def test_dict_spec_survives_keras_round_trip(tmp_path):
    model = tiny_began(distance={"gmsm": 1, "l1": 2, "chrom": 0.5})
    assert model.distance_spec == "l1:2,gmsm:1,chrom:0.5"
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config()["distance"] == "l1:2,gmsm:1,chrom:0.5"
    x, y = random_pair((2, 8, 8, 3))
    np.testing.assert_allclose(loaded.distance(x, y), model.distance(x, y), rtol=1e-6)
    np.testing.assert_allclose(
        model.distance(x, y),
        (2 * D.l1_distance(x, y) + D.gmsm_distance(x, y)
         + 0.5 * D.chrominance_distance(x, y)) / 3.5, rtol=1e-5)
