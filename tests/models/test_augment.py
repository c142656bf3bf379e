"""DiffAugment (Zhao et al. 2020; tfbegan.models.augment): each policy by hand, the
seeded draws, gradients, determinism and policy parsing. The models' use of it is in
tests/models/test_augment_models.py."""

import numpy as np
import pytest
import tensorflow as tf

from tfbegan.models import augment as A

ALL = ("color", "translation", "cutout")


def _ramp(n=2, size=8, channels=1, offset=1.0):
    """Distinct values >= offset, none equal to the fill (0)."""
    return (np.arange(n * size * size * channels, dtype="float32").reshape(
        n, size, size, channels) + offset)


def _shifted(image, dy, dx):
    """numpy: out[i, j] = image[i - dy, j - dx], 0 outside."""
    size = image.shape[0]
    out = np.zeros_like(image)
    for i in range(size):
        for j in range(size):
            if 0 <= i - dy < size and 0 <= j - dx < size:
                out[i, j] = image[i - dy, j - dx]
    return out


def _ctx():
    return tf.distribute.get_replica_context()  # the default: one replica


# ----------------------------------------------------------------- translation
def test_translation_by_a_known_shift_is_the_shifted_array():
    x = _ramp(2, size=4)
    out = A.translate(tf.constant(x), tf.constant([[1, -1], [-2, 0]])).numpy()
    np.testing.assert_array_equal(out[0, :, :, 0], [[0, 0, 0, 0],
                                                    [2, 3, 4, 0],
                                                    [6, 7, 8, 0],
                                                    [10, 11, 12, 0]])
    np.testing.assert_array_equal(out[1, :, :, 0], [[25, 26, 27, 28],
                                                    [29, 30, 31, 32],
                                                    [0, 0, 0, 0],
                                                    [0, 0, 0, 0]])


def test_seeded_translation_draws_shifts_within_an_eighth_and_applies_them():
    x = _ramp(16, size=16, channels=3)
    params = A.draw(("translation",), 16, 16, seed=4, counter=7, stream=A.REAL)
    shifts = params["shift"].numpy()
    assert A.translation_range(16) == 2
    assert shifts.min() == -2 and shifts.max() == 2  # the whole range is drawn
    out = A.apply(tf.constant(x), ("translation",), params, 16).numpy()
    for b in range(16):
        np.testing.assert_array_equal(out[b], _shifted(x[b], *shifts[b]), err_msg=b)


# ----------------------------------------------------------------- cutout
def test_cutout_zeroes_exactly_the_stated_square():
    x = _ramp(2, size=8, channels=3)
    out = A.cut_out(tf.constant(x), tf.constant([[2, 3], [-2, 6]]), 4).numpy()
    want = x.copy()
    want[0, 2:6, 3:7] = 0.0
    want[1, 0:2, 6:8] = 0.0  # the square from (-2, 6) is cut by the border
    np.testing.assert_array_equal(out, want)


def test_seeded_cutout_is_half_the_image_at_drawn_corners():
    n, size = 32, 8
    x = _ramp(n, size=size)
    params = A.draw(("cutout",), n, size, seed=1, counter=3, stream=A.FAKE)
    corners = params["corner"].numpy()
    assert A.cutout_size(size) == 4
    assert corners.min() == -2 and corners.max() == 6  # centre anywhere in [0, 8]
    out = A.apply(tf.constant(x), ("cutout",), params, size).numpy()
    for b, (top, left) in enumerate(corners):
        want = x[b].copy()
        want[max(top, 0):max(top + 4, 0), max(left, 0):max(left + 4, 0)] = 0.0
        np.testing.assert_array_equal(out[b], want, err_msg=b)


# ----------------------------------------------------------------- colour
def test_color_by_hand_on_one_pixel_pair():
    # Two pixels, three channels; b = 0.25, s = 0.5, c = 2.
    x = np.array([[[[0.2, -0.4, 0.8]], [[0.0, 0.6, -0.6]]]], "float32")  # [1, 2, 1, 3]
    y = x + 0.25
    y = (y - y.mean(-1, keepdims=True)) * 0.5 + y.mean(-1, keepdims=True)
    y = (y - y.mean()) * 2.0 + y.mean()
    f = [tf.constant(v, shape=(1, 1, 1, 1)) for v in (0.25, 0.5, 2.0)]
    np.testing.assert_allclose(A.adjust_color(tf.constant(x), *f), y, rtol=1e-6)
    assert abs(y - x).max() > 0.3  # the factors changed the image


def test_color_keeps_shape_draws_paper_ranges_and_zero_ranges_are_identity():
    x = tf.constant(np.random.RandomState(0).uniform(-1, 1, (64, 8, 8, 3)), tf.float32)
    params = A.draw(("color",), 64, 8, seed=0, counter=2, stream=A.REAL)
    out = A.apply(x, ("color",), params, 8)
    assert out.shape == x.shape
    assert float(tf.reduce_max(tf.abs(out - x))) > 0.1
    for name, (low, high) in A.COLOR_RANGES.items():
        v = params[name].numpy().ravel()
        assert low <= v.min() and v.max() < high, name
        assert v.max() - v.min() > 0.8 * (high - low), name  # spread over the range
    fixed = A.draw(("color",), 64, 8, 0, 2, A.REAL, color_ranges={
        "brightness": (0.0, 0.0), "saturation": (1.0, 1.0), "contrast": (1.0, 1.0)})
    np.testing.assert_allclose(A.apply(x, ("color",), fixed, 8), x, atol=1e-6)


def test_saturation_leaves_grey_images_alone():
    x = tf.constant(_ramp(1, size=4) / 16.0 - 0.5)
    f = [tf.constant(v, shape=(1, 1, 1, 1)) for v in (0.0, 1.7, 1.0)]
    np.testing.assert_allclose(A.adjust_color(x, *f), x, atol=1e-6)


# ----------------------------------------------------------------- gradients
def test_gradient_is_the_transform_jacobian():
    x = tf.constant(_ramp(2, size=8))
    params = {"shift": tf.constant([[1, 0], [0, -1]]), "corner": tf.constant([[0, 0], [4, 4]]),
              "brightness": tf.fill([2, 1, 1, 1], 0.1),
              "saturation": tf.ones([2, 1, 1, 1]), "contrast": tf.fill([2, 1, 1, 1], 1.5)}
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        cut = tf.reduce_sum(A.apply(x, ("cutout",), params, 8))
        moved = tf.reduce_sum(A.apply(x, ("translation",), params, 8))
        full = tf.reduce_sum(tf.square(A.apply(x, ALL, params, 8)))
    g = tape.gradient(cut, x).numpy()
    assert g[0, :4, :4].sum() == 0 and g[0, 4:].min() == 1 and g[1, :4].min() == 1
    g = tape.gradient(moved, x).numpy()
    # Shifted down by one: the last row leaves the image; right-to-left: column 0 does.
    assert g[0, 7].sum() == 0 and g[0, :7].min() == 1
    assert g[1, :, 0].sum() == 0 and g[1, :, 1:].min() == 1
    assert float(tf.reduce_sum(tf.abs(tape.gradient(full, x)))) > 1.0


# ----------------------------------------------------------------- determinism
def _flat(params):
    return np.concatenate([np.asarray(p[name], "float64").ravel()
                           for p in params for name in sorted(p)])


def test_same_step_same_transform_other_step_or_stream_another():
    aug = A.DiffAugment("color,translation,cutout", 16, seed=5)
    a = aug.step_params(8, _ctx(), tf.constant(3, tf.int64))
    b = A.DiffAugment("color,translation,cutout", 16, seed=5).step_params(8, _ctx(), 3)
    np.testing.assert_array_equal(_flat(a), _flat(b))
    c = aug.step_params(8, _ctx(), 4)
    assert np.abs(_flat(a) - _flat(c)).max() > 0.1
    real, fake = a
    assert np.abs(_flat([real]) - _flat([fake])).max() > 0.1  # independent batches
    # A policy draws the same numbers whichever others are on.
    alone = A.DiffAugment("cutout", 16, seed=5).step_params(8, _ctx(), 3)
    np.testing.assert_array_equal(alone[0]["corner"], real["corner"])
    other_seed = A.DiffAugment("cutout", 16, seed=6).step_params(8, _ctx(), 3)
    assert np.abs(_flat(other_seed) - _flat(alone)).max() > 0


def test_off_draws_nothing_and_leaves_images_alone():
    aug = A.DiffAugment("", 8, seed=0)
    assert aug.step_params(4, _ctx(), 0) is None and aug.spec == ""
    x = tf.constant(_ramp(1))
    real, fake = aug.pair(None, x, x + 1)
    assert real is x
    np.testing.assert_array_equal(fake, x + 1)


# ----------------------------------------------------------------- parsing
def test_policy_parsing_and_canonical_form():
    assert A.parse_policy("") == A.parse_policy(None) == ()
    assert A.parse_policy(" translation , color") == ("translation", "color")
    assert A.canonical_policy("color, translation,cutout") == "color,translation,cutout"


@pytest.mark.parametrize("spec, message", [
    ("color,flip", r"augment='color,flip': 'flip' is not a DiffAugment policy; allowed: "
                   r"color, translation, cutout"),
    ("color,,cutout", r"'' is not a DiffAugment policy"),
    ("cutout,cutout", r"augment='cutout,cutout' names a policy twice"),
    (3, r"augment=3 must be a string"),
])
def test_bad_policy_is_one_line_error(spec, message):
    with pytest.raises(ValueError, match=message) as info:
        A.parse_policy(spec)
    assert "\n" not in str(info.value)
