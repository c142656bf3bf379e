"""Periodic callbacks see means over their own period, whatever ``steps_per_epoch``."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbegan.callbacks import base, reporting, schedule
from tfbegan.models import BEGAN


class _Tracked:
    """A stand-in model: one Mean tracker ``a``; ``k`` is not a running mean."""
    metrics = [keras.metrics.Mean(name="a")]


def _feed(windows, values, epoch_len):
    """Feeds Keras-style epoch-to-date means of ``values`` (steps 1..n)."""
    for i in range(len(values)):
        batch = i % epoch_len
        start = i - batch
        mean = float(np.mean(values[start:i + 1]))
        windows.update(_Tracked, batch, {"a": mean, "k": values[i]})


def test_window_mean_spans_an_epoch_boundary():
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    w = base.WindowMeans()
    _feed(w, values[:3], epoch_len=4)
    assert w.take({"a": 2.0, "k": 3.0}) == {"a": 2.0, "k": 3.0}  # steps 1-3
    # Steps 4..7 with epochs of 4: step 4 ends epoch 1, 5-7 start epoch 2.
    w2 = base.WindowMeans()
    _feed(w2, values, epoch_len=4)
    assert w2.take({"a": 6.0, "k": 7.0})["a"] == pytest.approx(4.0)  # all 7 steps
    w3 = base.WindowMeans()
    _feed(w3, values[:3], epoch_len=4)
    w3.take({"a": 2.0})
    # (batch, epoch-to-date mean) for steps 4..7.
    for batch, mean in [(3, 2.5), (0, 5.0), (1, 5.5), (2, 6.0)]:
        w3.update(_Tracked, batch, {"a": mean})
    # Window = steps 4..7: (4 + 5 + 6 + 7) / 4 = 5.5 (the epoch-to-date log says 6.0).
    assert w3.take({"a": 6.0})["a"] == pytest.approx(5.5)


def test_window_mean_with_steps_per_execution():
    # steps_per_execution=2: Keras reports batches 1, 3 (0-based end steps).
    w = base.WindowMeans()
    w.update(_Tracked, 1, {"a": 1.5})      # steps 1, 2 = 1, 2
    w.take({"a": 1.5})
    w.update(_Tracked, 3, {"a": 2.5})      # steps 3, 4 = 3, 4
    assert w.take({"a": 2.5})["a"] == pytest.approx(3.5)


def _csv_rows(tmp_path, steps_per_epoch, name):
    keras.utils.set_random_seed(0)
    model = BEGAN(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4, seed=0)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    x = np.random.RandomState(0).uniform(-1, 1, (64, 8, 8, 1)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4).repeat()
    path = str(tmp_path / f"{name}.csv")
    model.fit(ds, steps_per_epoch=steps_per_epoch, epochs=30 // steps_per_epoch,
              verbose=0, callbacks=[reporting.MetricsCSV(path, every=5)])
    return reporting.read_metrics_csv(path)


def test_metrics_csv_rows_do_not_depend_on_steps_per_epoch(tmp_path):
    # Epochs of 6 steps cut every other 5-step window; one epoch of 30 cuts none.
    short, whole = _csv_rows(tmp_path, 6, "short"), _csv_rows(tmp_path, 30, "whole")
    assert [r["step"] for r in short] == [5, 10, 15, 20, 25, 30]
    for a, b in zip(short, whole, strict=True):
        for key in ("m_global", "loss_real", "loss_fake"):
            assert a[key] == pytest.approx(b[key], rel=1e-4), (a["step"], key)


def test_lr_decay_compares_window_means():
    keras.utils.set_random_seed(0)
    model = BEGAN(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    decay = schedule.ConvergenceLRDecay(patience=4, min_delta=0.0, every=2)
    decay.set_model(model)
    decay.on_train_begin()
    # Per-step M_global 1, 3 | 1, 3 | ...: window means stay at 2, a stall; the
    # epoch-to-date means (epochs of 1 step here) would be read as 1, 3, 1, 3.
    for value in [1.0, 3.0] * 3:
        for opt in model.optimizers:
            opt.iterations.assign_add(1)
        decay.on_train_batch_end(0, {"m_global": value})
    assert [d[0] for d in decay.decays] == [6]
    assert decay.best == pytest.approx(2.0)
