"""What the reliability pieces cost, one JSON line each (issue 19).

* ``folder_decode``: a run opens its folder twice (the training pipeline, then the
  fixed real batch for IQA statistics / reconstruction grids); ``first_s`` is the
  one decode, ``second_s`` the memoised second opening (before issue 19 it decoded
  the folder again).
* ``preemption_check``: seconds per step of a tiny ``fit()`` without and with
  :class:`tfbegan.training.preemption.PreemptionCheckpoint`, locally (``sync=False``) and with
  the cross-replica stop decision multi-worker runs use (``sync=True``, here on two
  logical CPU replicas).
* ``checkpoint_save``: seconds per ``save_checkpoint`` of a small BEGAN (the per-run
  temporaries and the archive check add no measurable time to Keras' own save).

Usage::

    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \\
        python benchmarks/reliability_overhead.py [--num_files=400] [--steps=200]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
from PIL import Image  # noqa: E402

from tfbegan.data import folders  # noqa: E402
from tfbegan.data.config import DataConfig  # noqa: E402
from tfbegan.data.pipeline import fixed_real_batch, make_dataset  # noqa: E402
from tfbegan.models import BEGAN  # noqa: E402
from tfbegan.training import checkpoints  # noqa: E402
from tfbegan.training.preemption import PreemptionCheckpoint, SignalCatcher  # noqa: E402


def folder_decode(num_files, size=32):
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        for i in range(num_files):
            Image.fromarray(rng.integers(0, 255, (96, 80, 3), np.uint8)).save(
                os.path.join(d, f"{i:05d}.jpg"), quality=90)
        config = DataConfig(f"folder:{d}", image_size=size)
        folders.clear_cache()
        t = time.perf_counter()
        make_dataset(config, 16, seed=0)
        first = time.perf_counter() - t
        t = time.perf_counter()
        fixed_real_batch(config, num=16, seed=1)
        second = time.perf_counter() - t
    return {"bench": "folder_decode", "files": num_files, "image_size": size,
            "first_s": round(first, 3), "second_s": round(second, 4)}


def _tiny_fit(steps, callbacks, strategy):
    with strategy.scope():
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8),
                                  keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    x = np.ones((steps * 4, 8), np.float32)
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0, callbacks=callbacks)  # warm
    t = time.perf_counter()
    model.fit(x, x[:, :1], batch_size=4, epochs=1, verbose=0, callbacks=callbacks)
    return (time.perf_counter() - t) / steps


def preemption_check(steps):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    out = {"bench": "preemption_check", "steps": steps, "replicas": 2}
    with SignalCatcher() as catcher:
        out["none_s_per_step"] = round(_tiny_fit(steps, [], strategy), 5)
        for sync in (False, True):
            cb = PreemptionCheckpoint(catcher, lambda step: None, strategy=strategy,
                                      sync=sync)
            out[f"sync_{sync}_s_per_step".lower()] = round(
                _tiny_fit(steps, [cb], strategy), 5)
    return out


def checkpoint_save(repeats=5):
    model = BEGAN(image_size=32, channels=1, filters=16, z_dim=32, h_dim=32)
    model.compile(**model.make_optimizers(1e-4, 0.5))
    with tempfile.TemporaryDirectory() as d:
        checkpoints.save_checkpoint(model, d, 0)  # warm
        t = time.perf_counter()
        for step in range(1, repeats + 1):
            path = checkpoints.save_checkpoint(model, d, step)
        per = (time.perf_counter() - t) / repeats
        t = time.perf_counter()
        checkpoints.verify_archive(path)
        verify = time.perf_counter() - t
        size = os.path.getsize(path)
    return {"bench": "checkpoint_save", "archive_bytes": size,
            "save_s": round(per, 3), "verify_archive_s": round(verify, 4)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_files", type=int, default=400)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    for result in (folder_decode(args.num_files), preemption_check(args.steps),
                   checkpoint_save()):
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
