"""Latency of the exported ``serving_default`` signature vs the in-process generator.

For one generator (random weights; the speed does not depend on training) at the
``tfbegan-train`` default size (32x32x1, n=32, z_dim=32), exported with
``tfbegan.serving.export.export_generator`` and measured in the same process:

* ``saved_model``: ``tf.saved_model.load(dir).signatures["serving_default"](z=z)``;
* ``saved_model_session``: the TF1 session loader and ``session.run`` of the
  signature's tensors (the path TensorFlow Serving's C++ server takes);
* ``keras_eager``: ``generator(z, training=False)``, as a user calls it;
* ``keras_function``: the same call inside a ``tf.function`` (traced once).

Prints one JSON line per runner: p50 / p99 latency (ms) of a batch-1 request and
images/s at batch 64. Calls of the runners are interleaved (round robin), so load
from other processes on a shared machine falls on all of them alike. Outputs are
fetched as numpy arrays in every runner (a server returns them). Note that
``serving_default`` also computes the uint8 output and the clipping that the bare
Keras call does not.

    python benchmarks/serving_latency.py [--image_size=32 --filters=32 --iters=300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from tfbegan.models import BEGAN
from tfbegan.serving import export as export_lib


def _session_runner(export_dir):
    graph = tf.Graph()
    sess = tf.compat.v1.Session(graph=graph)
    with graph.as_default():
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], export_dir)
    sig = meta.signature_def["serving_default"]
    fetch = {k: graph.get_tensor_by_name(v.name) for k, v in sig.outputs.items()}
    feed = graph.get_tensor_by_name(sig.inputs["z"].name)
    return lambda z: sess.run(fetch, {feed: z})


def make_runners(model, export_dir):
    """``{name: f(z numpy) -> outputs as numpy}``."""
    serving = tf.saved_model.load(export_dir).signatures["serving_default"]
    generator = model.generator
    function = tf.function(lambda z: generator(z, training=False),
                           input_signature=[tf.TensorSpec([None, model.z_dim], tf.float32)])
    return {
        "saved_model": lambda z: {k: v.numpy() for k, v in serving(z=tf.constant(z)).items()},
        "saved_model_session": _session_runner(export_dir),
        "keras_eager": lambda z: generator(z, training=False).numpy(),
        "keras_function": lambda z: function(tf.constant(z)).numpy(),
    }


def measure(runners, z, iters, warmup):
    """Per-runner lists of seconds per call, interleaved round robin."""
    for run in runners.values():
        for _ in range(warmup):
            run(z)
    times = {name: [] for name in runners}
    for _ in range(iters):
        for name, run in runners.items():
            start = time.perf_counter()
            run(z)
            times[name].append(time.perf_counter() - start)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--z_dim", type=int, default=32)
    parser.add_argument("--iters", type=int, default=300, help="batch-1 calls per runner")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batch_iters", type=int, default=20,
                        help="batch-size calls per runner")
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args(argv)

    model = BEGAN(image_size=args.image_size, channels=args.channels,
                          filters=args.filters, repeats=args.repeats, z_dim=args.z_dim,
                          h_dim=args.z_dim)
    with tempfile.TemporaryDirectory() as base:
        export_dir = export_lib.export_generator(model, base)
        runners = make_runners(model, export_dir)
        rng = np.random.default_rng(0)
        z1 = rng.uniform(-1, 1, (1, args.z_dim)).astype(np.float32)
        zb = rng.uniform(-1, 1, (args.batch, args.z_dim)).astype(np.float32)
        single = measure(runners, z1, args.iters, args.warmup)
        batched = measure(runners, zb, args.batch_iters, 2)

    p50 = {k: float(np.percentile(v, 50)) for k, v in single.items()}
    for name in runners:
        record = {
            "benchmark": "serving_latency", "runner": name,
            "p50_ms_batch1": round(1e3 * p50[name], 3),
            "p99_ms_batch1": round(1e3 * float(np.percentile(single[name], 99)), 3),
            f"images_per_s_batch{args.batch}": round(
                args.batch * len(batched[name]) / float(np.sum(batched[name])), 1),
            "p50_ratio_vs_keras_eager": round(p50[name] / p50["keras_eager"], 3),
            "p50_ratio_vs_keras_function": round(p50[name] / p50["keras_function"], 3),
            "image_size": args.image_size, "channels": args.channels,
            "filters": args.filters, "z_dim": args.z_dim, "iters": args.iters,
            "batch_iters": args.batch_iters, "tensorflow": tf.__version__,
            "cpus": os.cpu_count(), "machine": platform.machine(),
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
