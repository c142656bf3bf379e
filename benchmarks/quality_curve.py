"""Sample quality against training minutes: every checkpoint of one or more runs
scored by ``tfbegan-evaluate``, as JSON lines and a PNG of each metric against time.

For each ``WORKDIR`` (a ``tfbegan-train`` run directory), every
``checkpoints/ckpt-<step>.keras`` is scored by the real command,
``tfbegan-evaluate --checkpoint=CKPT EVALUATE_FLAGS...`` (run as a subprocess, so the
numbers are exactly those a user gets), and one JSON line is printed per checkpoint:
the run's label, the step, ``minutes`` (the checkpoint file's modification time minus
that of the run's ``config.json``, written when training starts: training time with
the callbacks, not start-up) and the evaluation's keys. ``--plot`` draws the
``--metrics`` keys against minutes, one line per run, one panel per metric (a key's
``<key>_floor``, when the evaluation reports one, as a dashed line).

Keep the checkpoints of the runs to score: train them with ``--keep_checkpoints``
at least ``--steps / --checkpoint_every``.

Usage::

    python benchmarks/quality_curve.py runs/a runs/b --labels=today,new \\
        --metrics=fid,confident_share --plot=docs/images/time_to_quality.png \\
        -- --dataset=mnist5k --num=1000
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys

STEP = re.compile(r"ckpt-(\d+)\.keras$")


def checkpoints(workdir):
    """``[(step, path)]`` of the run's checkpoints, oldest first."""
    found = []
    for path in glob.glob(os.path.join(workdir, "checkpoints", "ckpt-*.keras")):
        match = STEP.search(path)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def evaluate(path, evaluate_flags):
    """The JSON report of ``tfbegan-evaluate --checkpoint=path`` (RuntimeError with its
    last error line when it fails)."""
    cmd = [sys.executable, "-m", "tfbegan.cli.evaluate", f"--checkpoint={path}",
           *evaluate_flags]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip().splitlines()[-1:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def score_run(workdir, label, evaluate_flags):
    """Yields one dict per checkpoint of ``workdir``: label, step, minutes, report.

    The real-vs-real floors do not depend on the checkpoint: they are computed with
    the first one only (later calls get ``--nofloors``, unless the flags name
    ``--floors`` or ``--nofloors``) and copied into every row."""
    start = os.path.getmtime(os.path.join(workdir, "config.json"))
    floors, flags = {}, list(evaluate_flags)
    for step, path in checkpoints(workdir):
        report = {**evaluate(path, flags), **floors}
        if not floors and not any(f.startswith(("--floors", "--nofloors")) for f in flags):
            floors = {k: v for k, v in report.items() if k.endswith("_floor")}
            flags.append("--nofloors")
        minutes = (os.path.getmtime(path) - start) / 60.0
        yield {"run": label, "step": step, "minutes": round(minutes, 2), **report}


def plot(rows, metrics, path):
    """One panel per metric, one line per run, against minutes (floors dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4),
                             squeeze=False)
    runs = list(dict.fromkeys(row["run"] for row in rows))
    for ax, metric in zip(axes[0], metrics, strict=True):
        for run in runs:
            mine = [r for r in rows if r["run"] == run and metric in r]
            line, = ax.plot([r["minutes"] for r in mine], [r[metric] for r in mine],
                            marker="o", label=run)
            floors = [r[f"{metric}_floor"] for r in mine if f"{metric}_floor" in r]
            if floors:
                ax.axhline(floors[-1], linestyle="--", color=line.get_color(),
                           linewidth=1)
        ax.set_xlabel("training minutes")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workdirs", nargs="+", help="tfbegan-train run directories")
    parser.add_argument("--labels", default=None, help="comma-separated run labels "
                        "(default: the workdirs' names)")
    parser.add_argument("--metrics", default="fid,confident_share",
                        help="comma-separated report keys to plot")
    parser.add_argument("--plot", default=None, help="PNG to write")
    args, evaluate_flags = parser.parse_known_args()
    evaluate_flags = [a for a in evaluate_flags if a != "--"]
    labels = (args.labels.split(",") if args.labels
              else [os.path.basename(os.path.normpath(w)) for w in args.workdirs])
    if len(labels) != len(args.workdirs):
        parser.error(f"--labels has {len(labels)} names for {len(args.workdirs)} runs.")
    rows = []
    for workdir, label in zip(args.workdirs, labels, strict=True):
        for row in score_run(workdir, label, evaluate_flags):
            print(json.dumps(row, sort_keys=True), flush=True)
            rows.append(row)
    if args.plot:
        plot(rows, args.metrics.split(","), args.plot)


if __name__ == "__main__":
    main()
