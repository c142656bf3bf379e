"""Pixel distance L(v) = mean |v - D(v)|^eta (Berthelot et al. 2017, Eq. 1) by hand."""

import numpy as np
import pytest
import tensorflow as tf

from tfbegan.losses.distances import make_distance, pixel_distance, pixel_loss

# Sample 0 (2x2x1): v - r = [0.5, -1, -0.5, 0.5]
#   eta 1: (0.5 + 1 + 0.5 + 0.5) / 4 = 0.625
#   eta 2: (0.25 + 1 + 0.25 + 0.25) / 4 = 0.4375
# Sample 1: v = 1, r = -1 everywhere, |v - r| = 2 -> eta 1: 2, eta 2: 4.
V = np.array([[[[0.5], [-1.0]], [[0.25], [0.0]]],
              [[[1.0], [1.0]], [[1.0], [1.0]]]], np.float32)
R = np.array([[[[0.0], [0.0]], [[0.75], [-0.5]]],
              [[[-1.0], [-1.0]], [[-1.0], [-1.0]]]], np.float32)


@pytest.mark.parametrize("eta, per_sample, batch_mean", [
    (1, [0.625, 2.0], 1.3125),      # (0.625 + 2) / 2
    (2, [0.4375, 4.0], 2.21875),    # (0.4375 + 4) / 2
])
def test_pixel_distance_by_hand(eta, per_sample, batch_mean):
    got = pixel_distance(tf.constant(V), tf.constant(R), eta)
    assert got.shape == (2,) and got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), per_sample, rtol=1e-6)
    assert float(pixel_loss(V, R, eta)) == pytest.approx(batch_mean, rel=1e-6)
    np.testing.assert_allclose(make_distance(None, eta)(V, R).numpy(), per_sample, rtol=1e-6)


def test_mean_runs_over_channels():
    # 1x1x3, v - r = [1, 0, -0.5]: eta 1 -> 1.5/3 = 0.5, eta 2 -> 1.25/3.
    v = np.array([[[[1.0, 0.0, -1.0]]]], np.float32)
    r = np.array([[[[0.0, 0.0, -0.5]]]], np.float32)
    assert float(pixel_distance(v, r, 1)[0]) == pytest.approx(0.5)
    assert float(pixel_distance(v, r, 2)[0]) == pytest.approx(1.25 / 3)


def test_identical_images_have_zero_distance():
    assert float(pixel_loss(V, V, 1)) == 0.0


@pytest.mark.parametrize("eta", [0, 3, 1.5])
def test_bad_eta(eta):
    with pytest.raises(ValueError, match=rf"eta={eta!r}.*1, 2"):
        pixel_distance(V, R, eta)
    with pytest.raises(ValueError, match=rf"eta={eta!r}"):
        make_distance(None, eta)
