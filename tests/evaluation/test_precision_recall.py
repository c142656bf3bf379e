"""Improved precision and recall, Kynkäänniemi et al. 2019 (precision_recall.py)."""

import numpy as np
import pytest

from tfbegan.evaluation import precision_recall as pr


def _line(n):
    return np.arange(n, dtype=np.float64)[:, None]


def test_knn_radii_hand_computed():
    # Points 0..9 on a line, k = 3: the ends reach 3 away, the others 2 (1, 1, 2).
    np.testing.assert_array_equal(pr.knn_radii(_line(10)), [9] + [4] * 8 + [9])
    with pytest.raises(ValueError, match="k=10"):
        pr.knn_radii(_line(10), k=10)


def test_identical_sets_give_one_and_one():
    x = np.random.default_rng(0).normal(size=(50, 8))
    assert pr.precision_recall(x, x) == (1.0, 1.0)


def test_disjoint_far_clusters_give_zero_and_zero():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(40, 4))
    generated = rng.normal(size=(40, 4)) + 100.0
    assert pr.precision_recall(real, generated) == (0.0, 0.0)


def test_a_generator_covering_half_the_real_set():
    rng = np.random.default_rng(2)
    cluster = rng.normal(size=(20, 3))
    real = np.concatenate([cluster, cluster + 100.0])  # two far modes
    # The generator draws one mode only: every sample is real-looking (precision 1)
    # but half of the real images are out of its reach (recall 1/2).
    assert pr.precision_recall(real, cluster) == (1.0, 0.5)


def test_line_example_hand_computed():
    # Generated 0..4 (radii 3, 2, 2, 2, 3) cover [-3, 7]: real 0..7 of 0..9, 8/10.
    assert pr.precision_recall(_line(10), _line(5)) == (1.0, 0.8)
    # Swapped: generated 8 and 9 lie beyond real 0..4's reach of 7.
    assert pr.precision_recall(_line(5), _line(10)) == (0.8, 1.0)


def test_blocks_do_not_change_the_result():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(37, 5)), rng.normal(size=(29, 5)) + 0.5
    assert pr.precision_recall(a, b, batch_size=7) == pr.precision_recall(a, b)
