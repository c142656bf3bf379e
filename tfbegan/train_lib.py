"""``train(config, workdir)``: the whole training job, without absl.

Builds the distribution strategy, the input pipeline and the model (or resumes both
from the newest checkpoint in ``workdir``), runs ``model.fit`` with the tfbegan
callbacks, and leaves in ``workdir``::

    config.json            the TrainConfig of the run (checked on resume)
    checkpoints/           atomic .keras checkpoints (tfbegan.checkpoints)
    logs/                  TensorBoard scalars and sample images
    samples/               PNG sample grids at fixed z
    metrics.csv            metric rows every log_every steps
    convergence.png        M_global, k, L(x), L(G(z)) against steps

Resume continues the run: weights, k, every optimizer's state and learning rate,
the step-keyed z sequence, callback state and the fixed sample z all continue where
the checkpoint left them; the data stream is reshuffled with a seed derived from the
resumed step (deterministic, but not the order an uninterrupted run would have seen).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time

import keras
import tensorflow as tf

import tfbegan
from tfbegan import callbacks as cb
from tfbegan import checkpoints
from tfbegan.config import TrainConfig

logger = logging.getLogger("tfbegan")

CONFIG_FILE = "config.json"
# Settings that may change between a run and its resumption.
RESUMABLE_CHANGES = ("steps", "export_base", "log_every", "checkpoint_every",
                     "sample_every", "keep_checkpoints", "lr_patience",
                     "lr_decay_every", "min_learning_rate", "lr_decay_factor",
                     "strategy", "num_gpus", "jit_compile", "steps_per_execution")


def config_to_dict(config: TrainConfig) -> dict:
    """JSON-ready dict of a TrainConfig (nested DataConfig included)."""
    out = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        out[field.name] = value
    return json.loads(json.dumps(out))


def check_workdir(workdir):
    """Creates ``workdir`` if needed and proves it writable, touching nothing else."""
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, f".write_test_{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"workdir {workdir!r} is not writable ({e.strerror}); pass a "
                         f"writable --workdir.") from None


def make_strategy(name="default", num_gpus=0):
    """The tf.distribute strategy for ``name`` ("default", "mirrored", "multi_worker")."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        if num_gpus > len(gpus):
            raise ValueError(f"num_gpus={num_gpus} but only {len(gpus)} GPU(s) are "
                             f"visible; use --num_gpus<={len(gpus)} (0 = all).")
        devices = gpus[:num_gpus] if num_gpus else gpus
        return tf.distribute.MirroredStrategy(devices or None)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy={name!r} is not supported; allowed: default, mirrored, "
                     f"multi_worker.")


def is_chief(strategy):
    """True on the worker that writes files (always true off multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type in (None, "worker") and task_id == 0 and not has_chief


def _rank1_logs(step_fn):
    """``step_fn`` with every scalar log reshaped to ``[1]``.

    Keras 3's fit reduces the step's logs under a multi-worker collective strategy
    with ``strategy.reduce("MEAN", v, axis=0)``, which fails on scalars ("Invalid
    reduction dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388);
    the ``[1]`` logs come back from that reduction as the scalars callbacks expect.
    """
    def wrapped(data):
        return {name: tf.reshape(value, [-1]) if tf.is_tensor(value) and
                value.shape.rank == 0 else value
                for name, value in step_fn(data).items()}
    return wrapped


def _check_same_start(strategy, step):
    """Raises ValueError unless every worker is about to resume from the same step.

    Each worker loads the newest checkpoint of *its* view of ``workdir``; only a
    filesystem shared by all workers (docs/multi_worker.md) makes them agree. An
    all-gather of the step (float32: exact below 2^24 steps) catches
    a worker that found another checkpoint or none, before any step is trained.
    """
    value = strategy.run(lambda: tf.constant([float(step)], tf.float32))
    steps = strategy.gather(value, axis=0).numpy()  # one entry per replica
    low, high = int(steps.min()), int(steps.max())
    if low != high:
        raise ValueError(f"workers resumed from different steps ({low} .. {high}): "
                         f"every worker must see the chief's workdir; put --workdir on "
                         f"a filesystem shared by all workers.")


def _check_resume_compatible(workdir, config):
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(path):
        return
    with open(path) as f:
        old = json.load(f)
    new = config_to_dict(config)
    # A setting added after the run started was at its default then.
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)
                if f.default is not dataclasses.MISSING}
    diffs = [f"{k}: {old.get(k, defaults.get(k))!r} -> {new[k]!r}" for k in new
             if k not in RESUMABLE_CHANGES and old.get(k, defaults.get(k)) != new[k]]
    if diffs:
        raise ValueError(f"workdir {workdir!r} holds a different run ({'; '.join(diffs)}); "
                         f"use a new --workdir or the original settings.")


def _write_config(workdir, config):
    path = os.path.join(workdir, CONFIG_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({**config_to_dict(config), "tfbegan_version": tfbegan.__version__}, f,
                  indent=1, sort_keys=True)
    os.replace(tmp, path)


class _StopAtStep(keras.callbacks.Callback):
    def __init__(self, last_step):
        super().__init__()
        self.last_step = last_step

    def on_train_batch_end(self, batch, logs=None):
        if cb.global_step(self.model) >= self.last_step:
            self.model.stop_training = True


class _ScalarSummaries(keras.callbacks.Callback):
    """TensorBoard scalars (every metric and learning rate) keyed by global step."""

    def __init__(self, log_dir, every):
        super().__init__()
        self.every = every
        self.writer = tf.summary.create_file_writer(log_dir)

    def on_train_batch_end(self, batch, logs=None):
        step = cb.global_step(self.model)
        if step % self.every:
            return
        with self.writer.as_default():
            for key, value in (logs or {}).items():
                tf.summary.scalar(key, float(value), step=step)
            for i, opt in enumerate(cb._optimizers(self.model)):
                tf.summary.scalar(f"learning_rate/{opt.name or i}", cb._get_lr(opt),
                                  step=step)
        self.writer.flush()


def build_model(config: TrainConfig):
    """A fresh, compiled model for ``config`` (call inside the strategy scope)."""
    from tfbegan.models import MODELS

    if config.model not in MODELS:
        raise ValueError(f"model={config.model!r} is not supported; allowed: "
                         f"{', '.join(sorted(MODELS))}.")
    model = MODELS[config.model](**config.model_kwargs)
    model.compile(**model.make_optimizers(config.learning_rate, config.beta1,
                                          d_lr_ratio=config.d_lr_ratio),
                  jit_compile=config.jit_compile,
                  steps_per_execution=config.steps_per_execution)
    return model


def train(config: TrainConfig, workdir: str, strategy=None, extra_callbacks=()):
    """Trains (or resumes) the run in ``workdir``; returns a summary dict.

    Args:
      config: the run's TrainConfig (``config.data`` a ``tfbegan.data.DataConfig``).
      workdir: run directory; an existing checkpoint there is resumed.
      strategy: a tf.distribute strategy; default: from ``config.strategy``.
      extra_callbacks: more Keras callbacks for ``fit``.

    Raises:
      ValueError: bad settings (before any file in ``workdir`` is touched).
      FloatingPointError: a loss became NaN/Inf; the last good checkpoint is kept.
    """
    from tfbegan import data as data_lib

    if config.data is None:
        config = config.replace(data=data_lib.DataConfig())
    # --- validation before any work or any write -----------------------------
    check_workdir(workdir)
    _check_resume_compatible(workdir, config)
    strategy = strategy or make_strategy(config.strategy, config.num_gpus)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ValueError(f"batch_size={config.batch_size} is not divisible by the "
                         f"{replicas} replicas; use a multiple of {replicas}.")
    spe = config.steps_per_execution
    for name in ("log_every", "checkpoint_every", "sample_every"):
        # Callbacks run once per execution of spe steps and act on step % every.
        if getattr(config, name) % spe:
            raise ValueError(f"{name}={getattr(config, name)} is not a multiple of "
                             f"steps_per_execution={spe}; callbacks only see every "
                             f"{spe}th step.")
    channels = data_lib.num_channels(config.data)
    want = config.model_kwargs.get("channels", channels)
    if want != channels:
        raise ValueError(f"channels={want} does not match the dataset "
                         f"{config.data.dataset!r}, which has {channels}.")
    size = config.model_kwargs.get("image_size", config.data.image_size)
    if size != config.data.image_size:
        raise ValueError(f"image_size={size} does not match the data pipeline's "
                         f"{config.data.image_size}.")
    # The dtype policy is process state read when layers are built: set it for this
    # run only, so a later model in the same process is float32 again.
    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{config.mixed_precision}")
    try:
        return _train_in_policy(config, workdir, strategy, extra_callbacks)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


def _train_in_policy(config, workdir, strategy, extra_callbacks):
    """train()'s body once settings are validated and the dtype policy is set."""
    from tfbegan import data as data_lib

    chief = is_chief(strategy)

    found = checkpoints.list_checkpoints(workdir)
    latest = found[-1][1] if found else None
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Before any variable exists: building and loading create variables (and
        # their cross-worker broadcasts) in different numbers.
        _check_same_start(strategy, found[-1][0] if found else 0)
    state = {}
    with strategy.scope():
        if latest:
            model, state = checkpoints.load_checkpoint(latest)
            # Execution settings may change on resume; the optimizers come back
            # from the checkpoint with their state and learning rates.
            model.jit_compile = config.jit_compile
            model.steps_per_execution = config.steps_per_execution
            logger.info("resuming %s from step %d", workdir, state.get("step", 0))
        else:
            keras.utils.set_random_seed(config.seed)
            model = build_model(config)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        model.train_step = _rank1_logs(model.train_step)
        model.test_step = _rank1_logs(model.test_step)
    start = cb.global_step(model)
    if chief:
        _write_config(workdir, config)
    if start >= config.steps:
        logger.info("%s is already at step %d >= steps=%d; nothing to train.",
                    workdir, start, config.steps)

    # A resumed run reseeds the shuffle with its start step instead of skipping
    # `start` batches: skipping would re-decode every image seen so far (hours on
    # CelebA), and CPU kernels are not bitwise deterministic anyway.
    dataset = data_lib.make_dataset(config.data, config.batch_size,
                                    seed=config.seed + start)

    nan_guard = cb.NaNGuard()
    lr_decay = cb.ConvergenceLRDecay(
        patience=config.lr_patience, factor=config.lr_decay_factor,
        min_lr=config.min_learning_rate, decay_every=config.lr_decay_every)
    saved_cb_state = state.get("callbacks", {})
    if "ConvergenceLRDecay" in saved_cb_state:
        lr_decay.set_state(saved_cb_state["ConvergenceLRDecay"])
    samples = cb.SampleGrid(os.path.join(workdir, "samples"), every=config.sample_every,
                            seed=config.seed + 1234,
                            log_dir=os.path.join(workdir, "logs") if chief else None)
    checkpointer = cb.Checkpointer(workdir, every=config.checkpoint_every,
                                   keep=config.keep_checkpoints, stateful=[lr_decay],
                                   nan_guard=nan_guard, enabled=chief)
    callbacks = [nan_guard, _StopAtStep(config.steps), lr_decay,
                 cb.EquilibriumMonitor(patience=max(1000, config.steps // 5)),
                 cb.ProgressLogger(config.log_every, config.steps, config.batch_size)]
    if chief:
        callbacks += [cb.MetricsCSV(os.path.join(workdir, "metrics.csv"), config.log_every),
                      _ScalarSummaries(os.path.join(workdir, "logs"), config.log_every),
                      samples]
    real = None
    if chief and (hasattr(model, "reconstruct") or getattr(model, "has_encoder", False)):
        # One fixed real batch serves the IQA statistics and the final reconstruction
        # grid (a tfds or folder pipeline is not free to open twice).
        real = next(iter(data_lib.make_dataset(config.data, 16, seed=config.seed + 1,
                                               shuffle=False, repeat=False)))
    if chief and hasattr(model, "reconstruct"):
        # Vertolli & Davies 2017's Table 2: l1 / GMSM / chrominance of D's reconstructions of a
        # fixed real batch, every sample_every steps (read by tfbegan-evaluate).
        from tfbegan import iqa

        callbacks.append(iqa.ReconstructionDistances(real, config.sample_every,
                                                     log_dir=workdir))
    callbacks += [checkpointer, *extra_callbacks]

    t0 = time.perf_counter()
    if start < config.steps:
        epoch_len = config.log_every
        model.fit(dataset, epochs=math.ceil(config.steps / epoch_len),
                  initial_epoch=start // epoch_len, steps_per_epoch=epoch_len,
                  callbacks=callbacks, verbose=0, shuffle=False)
    elapsed = time.perf_counter() - t0
    step = cb.global_step(model)
    if nan_guard.failure:
        raise FloatingPointError(
            f"training stopped: {nan_guard.failure}; the last good checkpoint is "
            f"{checkpoints.latest_checkpoint(workdir) or 'none'} (lower --learning_rate).")

    summary = {"workdir": workdir, "step": step, "start_step": start,
               "seconds": round(elapsed, 1), "k": float(keras.ops.convert_to_numpy(model.k))
               if hasattr(model, "k") else None,
               "checkpoint": checkpoints.latest_checkpoint(workdir)}
    if chief:
        summary["samples"] = samples.write(step)
        if getattr(model, "has_encoder", False):
            # x -> E(x) -> G(E(x)) for models that infer z (the AGE slides' figures).
            from tfbegan.reconstruction import save_reconstruction_grid

            summary["reconstructions"] = save_reconstruction_grid(
                os.path.join(workdir, "reconstructions.png"), model.encode,
                lambda z: model.generator(z, training=False), real.numpy(), columns=8,
                scale=2)
        csv_path = os.path.join(workdir, "metrics.csv")
        if os.path.exists(csv_path):
            # Models without k / M_global (BiGAN, AGE) plot their own metrics.
            keys = {} if hasattr(model, "k") else {"keys": (
                model.convergence_metric, *[n for n in model.metric_names()
                                            if n != model.convergence_metric])}
            summary["convergence_plot"] = cb.plot_convergence(
                csv_path, os.path.join(workdir, "convergence.png"), **keys)
        if config.export_base:
            from tfbegan.export import export_generator

            summary["export_dir"] = export_generator(model, config.export_base, step=step)
            logger.info("exported the generator to %s", summary["export_dir"])
    summary["model"] = model
    return summary
