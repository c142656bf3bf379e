"""tf.distribute plumbing of a training run: strategy, chief, multi-worker fixes."""

from __future__ import annotations

import tensorflow as tf


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


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


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


def rank1_logs(step_fn):
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


def check_same_start(strategy, step):
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
