"""BEGAN training throughput on GPUs: one JSON line per cell, under 8 minutes.

Cells (defaults): image size 64 and 128, n = 64 and 128, batch 16 and 64, dtype policy
float32 / mixed_bfloat16 / mixed_float16 (loss scaled), XLA off and on, each with
``steps_per_execution`` 1; then the same dtype x XLA cells at 64 px, n = 64, batch 16
with ``steps_per_execution = --overhead_spe`` (where per-step launch overhead matters
most); then, when two or more GPUs are visible, every cell again under
``MirroredStrategy`` over all of them (batch per replica as given, global batch =
batch x replicas). Each cell trains ``tfbegan.BEGAN`` (Berthelot et al. 2017) with
``model.fit()`` on one fixed batch: ``--warmup`` untimed steps (tracing, XLA
compilation), then ``--steps`` timed ones; it prints images/s and ms/step.

Cells run in the order above while the time budget (``--budget_s``, default 420 s)
lasts; a cell that would start after it prints a line with ``"skipped"`` instead, so
the whole suite stays under 8 minutes on one GPU. On a machine without a GPU the suite
prints one line saying so and exits 0 (``--allow_cpu`` runs the cells on the CPU, for
testing with a tiny cell).

The table these lines fill in, and the GPU defaults chosen from it, are in
docs/benchmarks.md.

Example:
  python benchmarks/gpu_suite.py
  python benchmarks/gpu_suite.py --allow_cpu --sizes 8 --filters 4 --batches 2 \\
      --dtypes float32 --jit_modes false --steps 2 --warmup 1 --overhead_spe 0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from tfbegan.models import BEGAN

DTYPES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def _ints(text):
    return [int(v) for v in text.split(",") if v]


def _words(text):
    return [v for v in text.split(",") if v]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=_ints, default=[64, 128])
    p.add_argument("--filters", type=_ints, default=[64, 128])
    p.add_argument("--batches", type=_ints, default=[16, 64], help="batch per replica")
    p.add_argument("--dtypes", type=_words, default=list(DTYPES))
    p.add_argument("--jit_modes", type=_words, default=["false", "true"])
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--steps", type=int, default=20, help="timed steps per cell")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--overhead_spe", type=int, default=8,
                   help="steps_per_execution of the 64 px / n 64 / batch 16 cells "
                        "(0: no such cells)")
    p.add_argument("--budget_s", type=float, default=420.0,
                   help="no cell starts after this many seconds")
    p.add_argument("--mirrored", choices=["auto", "off"], default="auto",
                   help="auto: MirroredStrategy cells when >= 2 devices are visible")
    p.add_argument("--allow_cpu", action="store_true",
                   help="run on the CPU when no GPU is visible (tests)")
    p.add_argument("--cpu_replicas", type=int, default=1,
                   help="with --allow_cpu: logical CPU devices to mirror over")
    args = p.parse_args(argv)
    for d in args.dtypes:
        if d not in DTYPES:
            p.error(f"--dtypes: {d!r} is not one of {', '.join(DTYPES)}")
    for j in args.jit_modes:
        if j not in ("true", "false"):
            p.error(f"--jit_modes: {j!r} is not one of true, false")
    if args.steps < 1 or args.warmup < 1:
        p.error(f"--steps={args.steps} and --warmup={args.warmup} must be >= 1")
    return args


def cells(args, replicas):
    """The cells in run order: dicts of size, n, batch, dtype, jit, spe, replicas."""
    grid = [dict(size=s, n=n, batch=b, dtype=d, jit=j == "true", spe=1)
            for s in args.sizes for n in args.filters for b in args.batches
            for d in args.dtypes for j in args.jit_modes]
    if args.overhead_spe > 1:
        grid += [dict(size=64, n=64, batch=16, dtype=d, jit=j == "true",
                      spe=args.overhead_spe)
                 for d in args.dtypes for j in args.jit_modes]
    out = [dict(c, replicas=1) for c in grid]
    if replicas > 1:
        out += [dict(c, replicas=replicas) for c in grid]
    return out


def run_cell(cell, args, devices):
    """Builds, warms up and times one cell; returns its JSON-ready dict."""

    strategy = (tf.distribute.MirroredStrategy(devices) if cell["replicas"] > 1
                else tf.distribute.get_strategy())
    global_batch = cell["batch"] * cell["replicas"]
    x = np.random.RandomState(0).uniform(
        -1, 1, (global_batch, cell["size"], cell["size"], args.channels)).astype("float32")
    data = tf.data.Dataset.from_tensors(x).repeat()
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(DTYPES[cell["dtype"]])
    try:
        with strategy.scope():
            model = BEGAN(image_size=cell["size"], channels=args.channels,
                                  filters=cell["n"], z_dim=64, h_dim=64)
            model.compile(**model.make_optimizers(1e-4, 0.5), jit_compile=cell["jit"],
                          steps_per_execution=cell["spe"])
    finally:
        keras.mixed_precision.set_global_policy(previous)
    spe = cell["spe"]
    warmup = -(-args.warmup // spe) * spe  # whole executions
    steps = -(-args.steps // spe) * spe
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    history = model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    loss = float(history.history["loss_real"][-1])
    return dict(cell, global_batch=global_batch, steps=steps,
                images_per_sec=round(global_batch * steps / seconds, 2),
                ms_per_step=round(1000 * seconds / steps, 3),
                warmup_s=round(compile_s, 2), finite=bool(np.isfinite(loss)))


def _setup_devices(args):
    """(device kind, device names to mirror over); None when nothing may run."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        return "GPU", [f"/gpu:{i}" for i in range(len(gpus))]
    if not args.allow_cpu:
        return None
    if args.cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.cpu_replicas)
    return "CPU", [f"/cpu:{i}" for i in range(args.cpu_replicas)]


def main(argv=None):
    args = parse_args(argv)
    setup = _setup_devices(args)
    if setup is None:
        print(json.dumps({"skipped": "no GPU visible; the GPU suite did not run "
                                     "(--allow_cpu runs it on the CPU)",
                          "tensorflow": tf.__version__}), flush=True)
        return 0
    kind, devices = setup
    replicas = len(devices) if args.mirrored == "auto" else 1
    start = time.perf_counter()
    common = dict(device=kind, devices=len(devices), tensorflow=tf.__version__,
                  keras=keras.__version__, channels=args.channels)
    for cell in cells(args, replicas):
        elapsed = time.perf_counter() - start
        if elapsed > args.budget_s:
            print(json.dumps({**common, **cell, "skipped": f"time budget "
                              f"{args.budget_s:g} s spent ({elapsed:.0f} s)"}), flush=True)
            continue
        try:
            result = run_cell(cell, args, devices)
        except (tf.errors.OpError, ValueError, RuntimeError) as err:
            # One failing cell (say, out of memory) must not hide the others.
            result = dict(cell, error=f"{type(err).__name__}: {str(err)[:200]}")
        print(json.dumps({**common, **result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
