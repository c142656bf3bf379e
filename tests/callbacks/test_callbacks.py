"""The public callbacks in a plain user-style model.fit(ds, callbacks=[...])."""

import logging
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfbegan.callbacks import (
    base,
    checkpointing,
    monitoring,
    quality,
    reporting,
    sampling,
    schedule,
)
from tfbegan.models import BEGAN
from tfbegan.steps import global_step
from tfbegan.training import checkpoints


def tiny_model(**kw):
    keras.utils.set_random_seed(0)
    args = dict(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4)
    args.update(kw)
    model = BEGAN(**args)
    model.compile(**model.make_optimizers(1e-3, 0.5))
    return model


def tiny_data(n=16):
    x = np.random.RandomState(0).uniform(-1, 1, (n, 8, 8, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices(x).repeat().batch(4)


def test_user_fit_with_all_callbacks(tmp_path):
    model = tiny_model()
    lines = []
    callbacks = [
        sampling.SampleGrid(str(tmp_path / "s"), every=3, num=4, log_dir=str(tmp_path / "tb")),
        schedule.ConvergenceLRDecay(patience=2, factor=0.5, min_lr=2e-4),
        monitoring.EquilibriumMonitor(patience=2),
        reporting.ProgressLogger(every=3, total_steps=6, batch_size=4, print_fn=lines.append),
        reporting.MetricsCSV(str(tmp_path / "m.csv"), every=1),
        monitoring.NaNGuard(),
        checkpointing.Checkpointer(str(tmp_path / "run"), every=3),
    ]
    model.fit(tiny_data(), steps_per_epoch=6, epochs=1, verbose=0, callbacks=callbacks)
    assert sorted(os.listdir(tmp_path / "s")) == ["samples_00000003.png",
                                                  "samples_00000006.png"]
    # 2x2 grid of 8x8 tiles, 2 px padding, scaled 2x: (2*(8+2)+2)*2 = 44.
    assert Image.open(tmp_path / "s" / "samples_00000006.png").size == (44, 44)
    assert len(lines) == 3 and re.fullmatch(
        r"step 1/6 \| first step \d+\.\d s \(tracing and compiling\)", lines[0]), lines
    assert lines[1].startswith("step 3/6 | loss_real")
    assert "img/s" in lines[1] and "ETA" in lines[1]
    rows = reporting.read_metrics_csv(str(tmp_path / "m.csv"))
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert set(model.metric_names()) <= set(rows[0])
    assert [s for s, _ in checkpoints.list_checkpoints(str(tmp_path / "run"))] == [3, 6]
    png = reporting.plot_convergence(str(tmp_path / "m.csv"), str(tmp_path / "c.png"))
    assert Image.open(png).size[0] > 100


def test_lr_decay_halves_every_optimizer_on_stall_down_to_floor():
    model = tiny_model()
    decay = schedule.ConvergenceLRDecay(patience=2, factor=0.5, min_lr=3e-4, min_delta=0.0,
                                         every=1)
    decay.set_model(model)
    step = [0]

    def feed(value):
        for opt in model.optimizers:
            opt.iterations.assign_add(1)
        decay.on_train_batch_end(0, {"m_global": value})

    feed(1.0)            # best 1.0 at step 1
    feed(1.1)            # no improvement, 1 step
    feed(1.2)            # 2 steps without improvement -> decay
    lrs = [float(o.learning_rate.numpy()) for o in model.optimizers]
    np.testing.assert_allclose(lrs, [5e-4, 5e-4])
    feed(0.5)            # improvement resets
    feed(0.6)
    feed(0.7)            # stall again -> 2.5e-4, floored at 3e-4
    lrs = [float(o.learning_rate.numpy()) for o in model.optimizers]
    np.testing.assert_allclose(lrs, [3e-4, 3e-4])
    assert [d[0] for d in decay.decays] == [3, 6]
    # State round trip (checkpointed in the sidecar).
    other = schedule.ConvergenceLRDecay(patience=2)
    other.set_state(decay.get_state())
    assert other.get_state() == decay.get_state()
    del step


def test_scheduled_decay_every_n_steps():
    model = tiny_model()
    decay = schedule.ConvergenceLRDecay(patience=0, factor=0.5, decay_every=2)
    decay.set_model(model)
    for _ in range(4):
        for opt in model.optimizers:
            opt.iterations.assign_add(1)
        decay.on_train_batch_end(0, {})
    np.testing.assert_allclose([float(o.learning_rate.numpy()) for o in model.optimizers],
                               [1e-3 / 4] * 2)


def test_equilibrium_monitor_warns_once(caplog):
    model = tiny_model()
    mon = monitoring.EquilibriumMonitor(patience=3)
    mon.set_model(model)
    with caplog.at_level(logging.WARNING, logger="tfbegan"):
        for k in [0.0] * 6 + [0.2] + [0.0] * 5:
            for opt in model.optimizers:
                opt.iterations.assign_add(1)
            mon.on_train_batch_end(0, {"k": k})
    warnings = [r.getMessage() for r in caplog.records if "k has been 0" in r.getMessage()]
    assert len(warnings) == 1
    assert "for 3 steps" in warnings[0] and "gamma" in warnings[0]


@pytest.mark.parametrize("m_global, warns", [
    ([1.0 - 0.02 * i for i in range(30)], False),   # still improving: k=1 is no failure
    ([0.5 + 0.01 * (i % 2) for i in range(30)], True),  # flat: warn
])
def test_equilibrium_monitor_warns_only_when_m_global_stalls(caplog, m_global, warns):
    # The no-flag run printed a collapse warning on every run: k sits at 1 for its
    # first ~1,400 steps while the digits form and M_global falls.
    model = tiny_model()
    mon = monitoring.EquilibriumMonitor(patience=20)  # windows of 2 steps
    mon.set_model(model)
    mon.on_train_begin()
    with caplog.at_level(logging.WARNING, logger="tfbegan"):
        for value in m_global:
            for opt in model.optimizers:
                opt.iterations.assign_add(1)
            mon.on_train_batch_end(0, {"k": 1.0, "m_global": value})
    warnings = [r.getMessage() for r in caplog.records if "k has been 1" in r.getMessage()]
    assert len(warnings) == int(warns)
    if warns:
        assert "for 20 steps while M_global stalled" in warnings[0]


def test_nan_guard_names_step_and_blocks_checkpoint(tmp_path):
    model = tiny_model()
    guard = monitoring.NaNGuard()
    ckpt = checkpointing.Checkpointer(str(tmp_path), every=1, nan_guard=guard)

    class Poison(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 2:
                v = self.model.generator.trainable_variables[0]
                v.assign(v * np.nan)

    model.fit(tiny_data(), steps_per_epoch=5, epochs=1, verbose=0,
              callbacks=[Poison(), guard, ckpt])
    assert guard.failure is not None and "at step 3" in guard.failure
    assert [s for s, _ in checkpoints.list_checkpoints(str(tmp_path))] == [1, 2]


def test_global_step_follows_optimizer():
    model = tiny_model()
    assert global_step(model) == 0
    model.fit(tiny_data(), steps_per_epoch=2, epochs=1, verbose=0)
    assert global_step(model) == 2


def test_bad_callback_arguments():
    with pytest.raises(ValueError, match="factor=1.5"):
        schedule.ConvergenceLRDecay(factor=1.5)
    with pytest.raises(ValueError, match="every=0"):
        sampling.SampleGrid("x", every=0)


@pytest.mark.parametrize("make, match", [
    (lambda: schedule.ConvergenceLRDecay(patience=-1), "patience=-1"),
    (lambda: schedule.ConvergenceLRDecay(min_lr=-1e-6), "min_lr=-1e-06"),
    (lambda: schedule.ConvergenceLRDecay(min_delta="0.1"), "min_delta='0.1'"),
    (lambda: schedule.ConvergenceLRDecay(decay_every=-100), "decay_every=-100"),
    (lambda: sampling.SampleGrid("x", num=0), "num=0"),
    (lambda: sampling.SampleGrid("x", scale=1.5), "scale=1.5"),
    (lambda: checkpointing.Checkpointer("w", keep=0), "keep=0"),
    (lambda: quality.QualityEvaluator(np.zeros((2, 8, 8, 1)), None, kid_subsets=0),
     "kid_subsets=0"),
    (lambda: quality.QualityEvaluator(np.zeros((2, 8, 8, 1)), None, ms_ssim_pairs=-5),
     "ms_ssim_pairs=-5"),
    (lambda: quality.QualityEvaluator(np.zeros((2, 8, 8, 1)), None, collapse_margin=2),
     "collapse_margin=2"),
])
def test_callback_settings_are_checked_at_construction(make, match):
    # Before, these failed at the first grid / checkpoint / evaluation, thousands of
    # steps into a run, or never (a negative patience or keep).
    with pytest.raises(ValueError, match=match):
        make()


def test_periodic_callbacks_fire_once_per_period_with_steps_per_execution(tmp_path):
    # fit(steps_per_execution=4) reports steps 4, 8, ..., 24 only. With every=10,
    # `step % 10 == 0` sees only step 20; the crossing rule fires at the first step
    # of each new period: 12 (period 1) and 20 (period 2).
    keras.utils.set_random_seed(0)
    model = BEGAN(image_size=8, channels=1, filters=4, z_dim=4, h_dim=4)
    model.compile(**model.make_optimizers(1e-3, 0.5), steps_per_execution=4)
    seen, lines = [], []

    class Seen(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(global_step(self.model))

    grid = sampling.SampleGrid(str(tmp_path / "s"), every=10, num=4)
    csv_path = str(tmp_path / "m.csv")
    distances = quality.ReconstructionDistances(np.zeros((2, 8, 8, 1), np.float32), 10,
                                           log_dir=None)
    callbacks = [Seen(), grid, distances, reporting.MetricsCSV(csv_path, every=10),
                 reporting.ProgressLogger(every=10, print_fn=lines.append),
                 reporting.ScalarSummaries(str(tmp_path / "tb"), every=10),
                 checkpointing.Checkpointer(str(tmp_path / "run"), every=10),
                 schedule.ConvergenceLRDecay(patience=0, factor=0.5, decay_every=10)]
    model.fit(tiny_data(), steps_per_epoch=24, epochs=1, verbose=0, callbacks=callbacks)
    assert seen == [4, 8, 12, 16, 20, 24]
    assert sorted(os.listdir(tmp_path / "s")) == ["samples_00000012.png",
                                                  "samples_00000020.png"]
    assert [r["step"] for r in reporting.read_metrics_csv(csv_path)] == [12, 20]
    assert [r["step"] for r in distances.history] == [12, 20]
    assert [line.split(" |")[0] for line in lines] == ["step 4", "step 12", "step 20"]
    # Periodic saves at 12 and 20, the final one at 24.
    assert [s for s, _ in checkpoints.list_checkpoints(str(tmp_path / "run"))] == [
        12, 20, 24]
    np.testing.assert_allclose([float(o.learning_rate.numpy()) for o in model.optimizers],
                               [1e-3 / 4] * 2)
    # A second fit (a resumed run) takes its baseline from step 24: period 2 is done,
    # so the next grid comes at 32 (period 3), not at once.
    model.fit(tiny_data(), steps_per_epoch=8, epochs=1, verbose=0, callbacks=[grid])
    assert sorted(os.listdir(tmp_path / "s"))[-1] == "samples_00000032.png"
    assert len(os.listdir(tmp_path / "s")) == 3


def test_scheduled_decay_does_not_repeat_after_resume():
    model = tiny_model()
    for opt in model.optimizers:
        opt.iterations.assign(20)   # resumed from a checkpoint written at step 20
    decay = schedule.ConvergenceLRDecay(patience=0, factor=0.5, decay_every=10)
    decay.set_model(model)
    decay.on_train_begin()
    for _ in range(9):
        for opt in model.optimizers:
            opt.iterations.assign_add(1)
        decay.on_train_batch_end(0, {})
    assert decay.decays == []       # steps 21..29: still period 2
    for opt in model.optimizers:
        opt.iterations.assign_add(1)
    decay.on_train_batch_end(0, {})
    assert [d[0] for d in decay.decays] == [30]


def test_stop_at_step_stops_fit_at_the_global_step():
    model = tiny_model()
    model.fit(tiny_data(), steps_per_epoch=3, epochs=1, verbose=0)
    model.fit(tiny_data(), steps_per_epoch=10, epochs=1, verbose=0,
              callbacks=[base.StopAtStep(5)])
    assert global_step(model) == 5
    with pytest.raises(ValueError, match="last_step=0"):
        base.StopAtStep(0)


def test_scalar_summaries_write_metrics_and_learning_rates(tmp_path):
    model = tiny_model()
    model.fit(tiny_data(), steps_per_epoch=4, epochs=1, verbose=0,
              callbacks=[reporting.ScalarSummaries(str(tmp_path), every=2)])
    tags = {}
    for path in tmp_path.iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    assert tags["k"] == [2, 4]
    lr_tags = [t for t in tags if t.startswith("learning_rate/")]
    assert len(lr_tags) == 2 and all(tags[t] == [2, 4] for t in lr_tags)


def test_plot_convergence_error_names_the_keys_asked_for(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("step,loss\n1,0.5\n")
    with pytest.raises(ValueError) as info:
        reporting.plot_convergence(str(path), str(tmp_path / "c.png"), keys=("m_global", "k"))
    message = str(info.value)
    assert "any of ['m_global', 'k']" in message and "['loss']" in message


def test_old_private_names_still_work():
    # train_lib calls these until it switches to the public names.
    model = tiny_model()
    assert base.optimizers(model) == base.optimizers(model) == list(model.optimizers)
    assert base.get_lr(model.optimizers[0]) == pytest.approx(1e-3)


def test_metrics_csv_rerun_in_the_same_directory_starts_a_fresh_file(tmp_path):
    # A user script run twice: the second, fresh model (step 0) must not inherit a
    # header cut back to `step` (its rows then carried no metrics and
    # plot_convergence failed).
    path = str(tmp_path / "m.csv")
    for _ in range(2):
        model = tiny_model()
        model.fit(tiny_data(), steps_per_epoch=4, epochs=1, verbose=0,
                  callbacks=[reporting.MetricsCSV(path, every=2)])
        rows = reporting.read_metrics_csv(path)
        assert [r["step"] for r in rows] == [2, 4]
        assert set(model.metric_names()) <= set(rows[0])
    reporting.plot_convergence(path, str(tmp_path / "c.png"))


def test_metrics_csv_widens_its_header_for_new_metrics(tmp_path):
    path = str(tmp_path / "m.csv")
    csv_cb = reporting.MetricsCSV(path, every=1)
    csv_cb.on_step(1, {"a": 1.0})
    csv_cb.on_step(2, {"a": 2.0, "b": 3.0})
    assert reporting.read_metrics_csv(path) == [{"step": 1, "a": 1.0},
                                                {"step": 2, "a": 2.0, "b": 3.0}]


def test_one_row_convergence_plot_draws_its_point(tmp_path):
    # With one row a line has no segment: the plot was four empty axes.
    path = str(tmp_path / "m.csv")
    with open(path, "w") as f:
        f.write("step,k,m_global,loss_real,loss_fake\n100,0.5,0.2,0.1,0.05\n")
    png = reporting.plot_convergence(path, str(tmp_path / "c.png"))
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3).astype(int)
    # Matplotlib's first colour, #1f77b4: drawn only by the data.
    blue = np.abs(pixels - [0x1F, 0x77, 0xB4]).sum(axis=1) < 40
    assert blue.sum() >= 4 * 5  # a visible marker on each of the four axes


def test_progress_logger_prints_in_a_user_script(capsys, monkeypatch):
    # A user script has no handler on the "tfbegan" logger: INFO lines were dropped.
    # (Another test in this process may have set the CLI's handler up.)
    monkeypatch.setattr(logging.getLogger("tfbegan"), "handlers", [])
    model = tiny_model()
    model.fit(tiny_data(), steps_per_epoch=2, epochs=1, verbose=0,
              callbacks=[reporting.ProgressLogger(every=2)])
    err = capsys.readouterr().err
    assert err.startswith("step 1 | first step "), err
    assert "\nstep 2 | loss_real" in err, err


@pytest.mark.parametrize("callback", [
    keras.callbacks.ReduceLROnPlateau(monitor="m_global"),
    keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr),
])
def test_keras_lr_callbacks_are_refused_with_a_pointer(callback):
    model = tiny_model()
    with pytest.raises(ValueError, match=r"one optimizer per network; use "
                                         r"tfbegan.callbacks.ConvergenceLRDecay"):
        model.fit(tiny_data(), steps_per_epoch=1, epochs=1, verbose=0,
                  callbacks=[callback])


def test_fit_on_a_dataset_gives_no_shuffle_warning():
    # Keras warned "`shuffle=True` was passed, but will be ignored" on every fit of the
    # README's example.
    import warnings

    model = tiny_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(tiny_data(), steps_per_epoch=1, epochs=1, verbose=0)
    assert not [w for w in caught if "shuffle" in str(w.message)]


def test_checkpointer_refuses_a_directory_holding_a_later_run(tmp_path):
    """A fresh run into a directory with another run's ckpt-6 used to overwrite
    ckpt-3 and keep ckpt-6, which load_latest would then have resumed."""
    run = str(tmp_path / "run")
    first = tiny_model()
    first.fit(tiny_data(), steps_per_epoch=6, epochs=1, verbose=0,
              callbacks=[checkpointing.Checkpointer(run, every=3)])
    before = {p: os.path.getmtime(p) for _, p in checkpoints.list_checkpoints(run)}
    with pytest.raises(ValueError, match=r"holds checkpoints up to step 6, past this "
                                         r"model's step 0: another run's"):
        tiny_model().fit(tiny_data(), steps_per_epoch=3, epochs=1, verbose=0,
                         callbacks=[checkpointing.Checkpointer(run, every=3)])
    assert {p: os.path.getmtime(p) for _, p in checkpoints.list_checkpoints(run)} == before
    # The resumed run continues in the same directory.
    model, _, _ = checkpoints.load_latest(run)
    model.fit(tiny_data(), steps_per_epoch=3, epochs=1, verbose=0,
              callbacks=[checkpointing.Checkpointer(run, every=3)])
    assert [s for s, _ in checkpoints.list_checkpoints(run)] == [3, 6, 9]
