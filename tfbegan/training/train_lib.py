"""``train(config, workdir)``: the whole training job, without absl.

Builds the distribution strategy, the input pipeline and the model (or resumes both
from the newest checkpoint in ``workdir``), runs ``model.fit`` with the tfbegan
callbacks, and leaves in ``workdir``::

    config.json            the TrainConfig of the run (checked on resume)
    checkpoints/           atomic .keras checkpoints (tfbegan.training.checkpoints)
    logs/                  TensorBoard scalars and sample images
    samples/               PNG sample grids at fixed z
    metrics.csv            metric rows every log_every steps
    convergence.png        M_global, k, L(x), L(G(z)) against steps

The job runs in named steps: validate every setting and path (before any write),
lock the workdir, restore or build the model, make the callbacks, fit, finish
(final samples, plots, export). Resume continues the run: weights, k, every
optimizer's state and learning rate, the step-keyed z sequence, callback state and
the fixed sample z all continue where the checkpoint left them; the data stream is
reshuffled with a seed derived from the resumed step (deterministic, but not the
order an uninterrupted run would have seen).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time

import keras
import numpy as np

from tfbegan import fileio
from tfbegan.callbacks import (
    Checkpointer,
    ConvergenceLRDecay,
    EquilibriumMonitor,
    MetricsCSV,
    NaNGuard,
    ProgressLogger,
    ReconstructionDistances,
    SampleGrid,
    ScalarSummaries,
    StopAtStep,
)
from tfbegan.data.config import DataConfig
from tfbegan.models import MODELS
from tfbegan.steps import global_step
from tfbegan.training import checkpoints, finish, preemption
from tfbegan.training.config import TrainConfig
from tfbegan.training.distribution import (
    check_same_start,
    is_chief,
    is_multi_worker,
    make_strategy,
    rank1_logs,
)
from tfbegan.training.run_config import (
    check_resume_compatible,
    check_workdir,
    read_config,
    write_config,
)
from tfbegan.training.workdir_lock import WorkdirLock

logger = logging.getLogger("tfbegan")

#: Real images in the fixed batch behind the IQA statistics and reconstruction grid.
FIXED_BATCH = 16


class TrainingInterrupted(Exception):
    """SIGTERM or SIGINT stopped the run after saving a checkpoint at ``step``.

    ``exit_code`` is the shell's 128 + signal number (143 for SIGTERM, 130 for
    SIGINT).
    """

    def __init__(self, signum, step):
        self.signum, self.step = signum, step
        self.exit_code = preemption.exit_code(signum)
        super().__init__(f"received {preemption.signal_name(signum)}: saved a checkpoint "
                         f"at step {step}; rerun the same command to resume.")


def build_model(config: TrainConfig):
    """A fresh, compiled model for ``config`` (call inside the strategy scope)."""
    _check_model(config)
    model = MODELS[config.model](**config.model_kwargs)
    model.compile(**model.make_optimizers(config.learning_rate, config.beta1,
                                          d_lr_ratio=config.d_lr_ratio),
                  jit_compile=config.jit_compile,
                  steps_per_execution=config.steps_per_execution)
    return model


def _check_model(config):
    """The model name and the settings only its class can judge, before any write."""
    if config.model not in MODELS:
        raise ValueError(f"model={config.model!r} is not supported; allowed: "
                         f"{', '.join(sorted(MODELS))}.")
    networks = dict(MODELS[config.model].optimizer_networks)
    if config.d_lr_ratio != 1.0 and "d" not in networks:
        raise ValueError(f"d_lr_ratio={config.d_lr_ratio!r}: model {config.model!r} has no "
                         f"discriminator (its networks: {', '.join(networks.values())}); "
                         f"leave the ratio at 1.")


def train(config: TrainConfig, workdir: str, strategy=None, extra_callbacks=()):
    """Trains (or resumes) the run in ``workdir``; returns a summary dict.

    Args:
      config: the run's TrainConfig (``config.data`` a ``tfbegan.data.pipeline.DataConfig``).
      workdir: run directory; an existing checkpoint there is resumed.
      strategy: a tf.distribute strategy; default: from ``config.strategy``.
      extra_callbacks: more Keras callbacks for ``fit``.

    Raises:
      ValueError: bad settings or paths (before any file in ``workdir`` is
        touched), or another run holds ``workdir``.
      FloatingPointError: a loss became NaN/Inf; the last good checkpoint is kept.
      TrainingInterrupted: SIGTERM / SIGINT; a checkpoint at that step was saved.
    """

    from tfbegan.data import pipeline as data_lib

    if config.data is None:
        config = config.replace(data=DataConfig())
    # Channels and size left None are the model's when its kwargs name them, else
    # chosen from the data, once, here, so config.json records what the run trains on.
    data = config.data
    for name in ("image_size", "channels"):
        if getattr(data, name) is None and name in config.model_kwargs:
            data = data.replace(**{name: config.model_kwargs[name]})
    config = config.replace(data=data_lib.resolve(data))
    created = not os.path.lexists(workdir)
    try:
        strategy = _validate(config, workdir, strategy)
        # Only the chief writes: under multi-worker training the other workers share
        # the chief's workdir (docs/multi_worker.md) and must not contend for its lock.
        lock = WorkdirLock(workdir) if is_chief(strategy) else contextlib.nullcontext()
        with lock, _dtype_policy(config.mixed_precision):
            return _run(config, workdir, strategy, extra_callbacks)
    except BaseException:
        if created:
            _remove_if_empty(workdir)
        raise


def _remove_if_empty(workdir):
    """Removes a workdir this run created when a failure left nothing in it."""
    from tfbegan.training.workdir_lock import LOCK_FILE

    try:
        if set(os.listdir(workdir)) <= {LOCK_FILE}:
            if os.listdir(workdir):
                os.remove(os.path.join(workdir, LOCK_FILE))
            os.rmdir(workdir)
    except OSError:
        pass  # another process wrote into it meanwhile: keep it


def _validate(config, workdir, strategy):
    """Every check that needs no model, before any write; returns the strategy."""
    from tfbegan.data import pipeline as data_lib

    _check_model(config)
    fileio.check_utf8_path(workdir, "workdir")
    fileio.check_utf8_path(config.export_base, "export_base")
    check_workdir(workdir)
    check_resume_compatible(workdir, config)
    if config.export_base:
        from tfbegan.serving.export import check_export_base

        check_export_base(config.export_base)
    strategy = strategy or make_strategy(config.strategy, config.num_gpus)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ValueError(f"batch_size={config.batch_size} is not divisible by the "
                         f"{replicas} replicas; use a multiple of {replicas}.")
    channels = data_lib.num_channels(config.data)
    want = config.model_kwargs.get("channels", channels)
    if want != channels:
        raise ValueError(f"channels={want} does not match the dataset "
                         f"{config.data.dataset!r}, which has {channels}.")
    size = config.model_kwargs.get("image_size", config.data.image_size)
    if size != config.data.image_size:
        raise ValueError(f"image_size={size} does not match the data pipeline's "
                         f"{config.data.image_size}.")
    return strategy


@contextlib.contextmanager
def _dtype_policy(mixed_precision):
    """The run's dtype policy, restored afterwards: the policy is process state read
    when layers are built, and a later model in the same process must be float32."""
    from tfbegan.training import precision

    previous = keras.mixed_precision.global_policy()
    mixed_precision = precision.resolve(mixed_precision)
    if mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{mixed_precision}")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _run(config, workdir, strategy, extra_callbacks):
    """train()'s body once settings are validated, the workdir is locked and the
    dtype policy is set."""
    from tfbegan.data import pipeline as data_lib

    chief = is_chief(strategy)
    model, state = _restore_or_build(config, workdir, strategy)
    start = global_step(model)
    # The data is opened before anything is written, so that a missing, empty or
    # unprepared source fails with config.json untouched. A resumed run reseeds the
    # shuffle with its start step instead of skipping `start` batches: skipping would
    # re-decode every image seen so far (hours on CelebA).
    dataset = data_lib.make_dataset(config.data, config.batch_size,
                                    seed=config.seed + start)
    real = _fixed_real_batch(config, model) if chief else None
    if chief and (start < config.steps or read_config(workdir) is None):
        # A rerun at or past --steps changes nothing, config.json included.
        write_config(workdir, config)
    summary = {"workdir": workdir, "start_step": start, "model": model}
    if start >= config.steps:
        summary.update(_end_state(model, workdir), seconds=0.0)
        if not chief or finish.finished_step(workdir) == start:
            logger.info("workdir %s is already at step %d >= --steps=%d; nothing to "
                        "train (raise --steps to continue).", workdir, start, config.steps)
            return summary
        # A run stopped after its last step, before its samples, plot or export.
        logger.info("workdir %s is at step %d: writing the end-of-run samples, plot and "
                    "export a stopped run left undone.", workdir, start)
        summary.update(finish.finish_run(config, workdir, model, real))
        return summary
    callbacks, handles = _make_callbacks(config, workdir, model, state, chief, real,
                                         strategy)
    callbacks += list(extra_callbacks)
    elapsed = _fit(config, model, dataset, start, callbacks, handles["catcher"])
    if handles["nan_guard"].failure:
        raise FloatingPointError(
            f"training stopped: {handles['nan_guard'].failure}; the last good checkpoint "
            f"is {checkpoints.latest_checkpoint(workdir) or 'none'} "
            f"({_nan_hint(config)}).")
    if handles["preemption"].stopped_at is not None:
        raise TrainingInterrupted(handles["preemption"].signum,
                                  handles["preemption"].stopped_at)
    summary.update(_end_state(model, workdir), seconds=round(elapsed, 1))
    if chief:
        summary.update(finish.finish_run(config, workdir, model, real, handles["samples"]))
    return summary


def _restore_or_build(config, workdir, strategy):
    """``(model, checkpoint state)``: the newest checkpoint's, or a fresh model."""
    found = checkpoints.list_checkpoints(workdir)
    if is_multi_worker(strategy):
        # Before any variable exists: building and loading create variables (and
        # their cross-worker broadcasts) in different numbers.
        check_same_start(strategy, found[-1][0] if found else 0)
    with strategy.scope():
        # Newest first; one that does not load is named and moved aside (chief only).
        model, state, path = checkpoints.load_latest(workdir,
                                                     move_corrupt=is_chief(strategy))
        if model is not None and type(model) is not MODELS[config.model]:
            # _validate checked the newest readable checkpoint; this one is older.
            raise ValueError(f"checkpoint {path!r} holds a {type(model).__name__}, not "
                             f"--model={config.model}; use a new --workdir.")
        if model is not None:
            # Execution settings may change on resume; the optimizers come back
            # from the checkpoint with their state and learning rates.
            model.jit_compile = config.jit_compile
            model.steps_per_execution = config.steps_per_execution
            logger.info("resuming %s from step %d", workdir, global_step(model))
        else:
            keras.utils.set_random_seed(config.seed)
            model = build_model(config)
    if is_multi_worker(strategy):
        model.train_step = rank1_logs(model.train_step)
        model.test_step = rank1_logs(model.test_step)
    return model, state


def _has_autoencoder_discriminator(model):
    """BEGAN-family models, whose ``reconstruct`` is D's auto-encoding (not BiGAN's
    or AGE's G(E(x)))."""
    from tfbegan.models.began import BEGAN

    return isinstance(model, BEGAN)


def _fixed_real_batch(config, model):
    """``min(16, images)`` real images for the IQA statistics and the reconstruction
    grid, or None when the model uses neither."""
    from tfbegan.data import pipeline as data_lib

    if not (_has_autoencoder_discriminator(model) or getattr(model, "has_encoder", False)):
        return None
    return data_lib.fixed_real_batch(config.data, FIXED_BATCH, seed=config.seed + 1)


def _training_images(config, num, seed):
    """``min(num, images in the source)`` images as the training pipeline gives them."""
    from tfbegan.data import pipeline as data_lib

    count = data_lib.num_examples(config.data)
    num = min(num, count) if count else num
    return next(iter(data_lib.make_dataset(config.data, num, seed=seed, shuffle=False,
                                           repeat=False)))


def _make_callbacks(config, workdir, model, state, chief, real, strategy):
    """The run's callbacks, in order, and the handles ``_run`` reads afterwards."""
    log_dir = os.path.join(workdir, "logs")
    nan_guard = NaNGuard()
    def make_lr_decay():
        return ConvergenceLRDecay(
            patience=config.lr_patience, factor=config.lr_decay_factor,
            min_lr=config.min_learning_rate, decay_every=config.lr_decay_every,
            every=config.log_every)

    lr_decay = make_lr_decay()
    if not _restore_state(lr_decay, state):
        lr_decay = make_lr_decay()  # a state that does not fit starts afresh
    samples = SampleGrid(os.path.join(workdir, "samples"), every=config.sample_every,
                            seed=config.seed + 1234, log_dir=log_dir if chief else None)
    checkpointer = Checkpointer(workdir, every=config.checkpoint_every,
                                   keep=config.keep_checkpoints, stateful=[lr_decay],
                                   nan_guard=nan_guard, enabled=chief)
    catcher = preemption.SignalCatcher()
    stop_on_signal = preemption.PreemptionCheckpoint(catcher, checkpointer.save,
                                                     strategy=strategy, chief=chief)
    callbacks = [nan_guard, StopAtStep(config.steps), lr_decay,
                 EquilibriumMonitor(patience=max(1000, config.steps // 5)),
                 ProgressLogger(config.log_every, config.steps, config.batch_size)]
    if chief:
        callbacks += [MetricsCSV(os.path.join(workdir, "metrics.csv"), config.log_every),
                      ScalarSummaries(log_dir, config.log_every), samples]
    if chief and _has_autoencoder_discriminator(model):
        # Vertolli & Davies 2017, Table 2: l1 / GMSM / chrominance of D's
        # reconstructions of a fixed real batch (read by tfbegan-evaluate).
        callbacks.append(ReconstructionDistances(real, config.sample_every,
                                                    log_dir=workdir))
    callbacks += [checkpointer, stop_on_signal]
    return callbacks, {"nan_guard": nan_guard, "samples": samples, "catcher": catcher,
                       "preemption": stop_on_signal}


def _restore_state(callback, state):
    """Sets ``callback``'s state from the checkpoint sidecar's ``callbacks``; False
    (after one warning) when that state is of the wrong type, for the caller to start
    the callback afresh, as without a sidecar."""
    saved = state.get("callbacks", {})
    name = type(callback).__name__
    try:
        if name in saved:
            callback.set_state(saved[name])
        return True
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        logger.warning("checkpoint sidecar of step %s: %s state %.80r is not usable (%s); "
                       "it starts afresh.", state.get("step"), name,
                       saved.get(name) if isinstance(saved, dict) else saved,
                       type(e).__name__)
        return False


def _fit(config, model, dataset, start, callbacks, catcher):
    """Runs ``fit`` on ``dataset`` from ``start`` to ``config.steps``; returns the
    wall seconds."""
    epoch_len = config.log_every
    t0 = time.perf_counter()
    with catcher:
        model.fit(dataset, epochs=math.ceil(config.steps / epoch_len),
                  initial_epoch=start // epoch_len, steps_per_epoch=epoch_len,
                  callbacks=callbacks, verbose=0, shuffle=False)
    return time.perf_counter() - t0


def _nan_hint(config):
    """What to try after a NaN stop: the data when a batch holds NaN/Inf, else the
    learning rate."""
    batch = _training_images(config, 256, seed=config.seed)
    if not np.all(np.isfinite(np.asarray(batch))):
        return f"the training data holds NaN or Inf values: check dataset={config.data.dataset!r}"
    return "lower --learning_rate"


def _end_state(model, workdir):
    return {"step": global_step(model),
            "k": float(keras.ops.convert_to_numpy(model.k)) if hasattr(model, "k") else None,
            "checkpoint": checkpoints.latest_checkpoint(workdir)}
