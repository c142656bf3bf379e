"""Wall time of short ``model.fit()`` calls with tf.data autotuning on and off.

With autotuning on, the iterator that each fit() call creates starts tf.data's
optimisation thread, whose sleep period doubles from 10 ms; on TF 2.21 CPU the end of
fit() could wait for the period to run out, so calls ended at 2.55, 5.11, 10.23, ...
s (= (2^n - 1) x 10 ms) whatever their steps needed. ``tfbegan.data.pipeline`` therefore turns
autotuning off (``tfbegan.data.pipeline.without_autotune``). This script repeats the check:
the same BEGAN, the same fixed batch, ``--calls`` fit() calls of ``--steps`` steps
for each setting (interleaved), and Keras' ``train_function`` driven directly for
reference. Prints one JSON line.

    python benchmarks/fit_call_overhead.py --size 32 --filters 64 --steps 4 --calls 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from train_throughput import make_data

from tfbegan.models import BEGAN


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=4, help="steps per fit() call")
    p.add_argument("--calls", type=int, default=5, help="fit() calls per setting")
    args = p.parse_args(argv)

    model = BEGAN(image_size=args.size, channels=3, filters=args.filters,
                          z_dim=64, h_dim=64)
    model.compile(**model.make_optimizers(1e-4, 0.5), jit_compile=False)
    datasets = {"autotune_on": make_data(args.size, 3, args.batch, autotune=True),
                "autotune_off": make_data(args.size, 3, args.batch, autotune=False)}
    model.fit(datasets["autotune_on"], steps_per_epoch=1, epochs=1, verbose=0)  # trace

    walls = {name: [] for name in datasets}
    walls["train_function"] = []
    iterator = iter(datasets["autotune_off"])
    for _ in range(args.calls):
        for name, ds in datasets.items():
            start = time.perf_counter()
            model.fit(ds, steps_per_epoch=args.steps, epochs=1, verbose=0)
            walls[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(args.steps):
            logs = model.train_function(iterator)
        float(logs["loss_real"])  # wait for the last step
        walls["train_function"].append(time.perf_counter() - start)

    print(json.dumps({
        "benchmark": "fit_call_overhead", "image_size": args.size,
        "filters": args.filters, "batch": args.batch, "steps_per_call": args.steps,
        "calls": args.calls,
        **{f"{name}_s": [round(w, 3) for w in ws] for name, ws in walls.items()},
        **{f"{name}_median_ms_per_step": round(
            1000 * statistics.median(ws) / args.steps, 1) for name, ws in walls.items()},
    }))


if __name__ == "__main__":
    main()
