"""Sliced Wasserstein distance on Laplacian-pyramid patches (tfbegan/evaluation/swd.py)."""

import numpy as np
import pytest

from tfbegan.evaluation import swd


def _images(seed, n=4, size=32, channels=3):
    return np.random.default_rng(seed).uniform(-1, 1, (n, size, size, channels)).astype(
        np.float32)


def test_pyramid_sizes_from_full_resolution_down_to_16():
    assert swd.pyramid_sizes(64) == [64, 32, 16]
    assert swd.pyramid_sizes(32) == [32, 16]
    assert swd.pyramid_sizes(16) == [16]
    assert swd.pyramid_sizes(8) == [8]  # small images: one level, the image itself
    with pytest.raises(ValueError, match="image_size=6"):
        swd.pyramid_sizes(6)


@pytest.mark.parametrize("size, shapes", [(32, [32, 16]), (64, [64, 32, 16])])
def test_pyramid_shapes_and_exact_reconstruction(size, shapes):
    x = _images(0, 2, size, 3)
    levels = swd.laplacian_pyramid(x)
    assert [lv.shape for lv in levels] == [(2, s, s, 3) for s in shapes]
    # x = L_0 + up(L_1 + up(G_2)): the Laplacian pyramid loses nothing.
    rebuilt = levels[-1]
    for lv in levels[-2::-1]:
        rebuilt = lv + swd.pyr_up(rebuilt, lv.shape[1])
    np.testing.assert_allclose(rebuilt, x, atol=1e-5)


def test_pyramid_of_a_constant_image_has_zero_laplacian_levels():
    x = np.full((1, 64, 64, 3), 0.3, np.float32)
    levels = swd.laplacian_pyramid(x)
    for lv in levels[:-1]:
        assert np.abs(lv).max() < 1e-6
    # The 16 px level is the Gaussian low-pass: the constant itself.
    np.testing.assert_allclose(levels[-1], 0.3, atol=1e-6)


def test_pyr_down_of_an_impulse_is_the_gaussian_kernel():
    x = np.zeros((1, 16, 16, 1), np.float32)
    x[0, 8, 8, 0] = 1.0
    down = swd.pyr_down(x)[0, :, :, 0]
    assert down.shape == (8, 8)
    # Rows/columns 6, 8, 10 of the blur land on 3, 4, 5: taps (1, 6, 1) / 16 per axis.
    np.testing.assert_allclose(down[3:6, 3:6], np.outer([1, 6, 1], [1, 6, 1]) / 256.0,
                               atol=1e-7)
    assert down.sum() == pytest.approx(64 / 256.0)  # (1 + 6 + 1)^2 / 256


def test_one_dimensional_shift_gives_the_shift():
    a = np.random.default_rng(1).normal(size=(500, 1)).astype(np.float32)
    # D = 1: every unit direction is +1 or -1, so SWD is W_1 = |shift| exactly.
    assert swd.sliced_wasserstein(a, a + 0.25) == pytest.approx(0.25, abs=1e-6)
    # Sorted pairs (0, 0), (1, 0), (2, 0), (3, 4): mean |difference| = (0+1+2+1)/4.
    a = np.array([[0.0], [1.0], [2.0], [3.0]])
    b = np.array([[0.0], [0.0], [4.0], [0.0]])
    assert swd.sliced_wasserstein(a, b) == pytest.approx(1.0)


def test_identical_sets_give_zero_and_different_sets_more():
    x = _images(2, 3, 32)
    same = swd.swd(x, x, seed=5)
    assert set(same) == {"swd_32", "swd_16", "swd"}
    assert all(v == 0.0 for v in same.values())
    other = swd.swd(x, _images(3, 3, 32) ** 3, seed=5)  # another distribution
    assert other["swd_32"] > 10 and other["swd"] == pytest.approx(
        (other["swd_32"] + other["swd_16"]) / 2)
    assert swd.swd(x, _images(3, 3, 32) ** 3, seed=5) == other  # seeded


def test_per_set_normalisation_ignores_a_global_affine_change():
    # Karras et al. 2018 normalise each set by its own per-channel mean and std:
    # 0.5 x - 0.2 has the same normalised descriptors as x.
    x = _images(4, 2, 32, 1)
    result = swd.swd(x, 0.5 * x - 0.2)
    assert result["swd"] == pytest.approx(0.0, abs=1e-3)


def test_descriptors_shape_and_normalisation():
    levels = swd.laplacian_pyramid(_images(5, 2, 32, 3))
    d = swd.level_descriptors(levels[0], nhoods=16)
    assert d.shape == (2 * 16, 7 * 7 * 3)
    per_channel = d.reshape(-1, 7, 7, 3)
    np.testing.assert_allclose(per_channel.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(axis=(0, 1, 2)), 1.0, atol=1e-4)
