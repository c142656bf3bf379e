"""Wall time of a whole ``tfbegan-train`` command, by phase, as one JSON line.

Runs ``tfbegan-train TRAIN_FLAGS...`` (the installed command's module, in a
subprocess), stamps each line of its output with a monotonic clock as it arrives,
and splits the command's wall time at the progress lines:

* ``startup_s``: from the process start until the first step begins (imports, flag
  checks, the data survey and decode, building the model);
* ``first_step_s``: the first step, which traces and compiles the train step (the
  ``step 1/N | first step X s`` line's X);
* ``training_s``: from the end of the first step to the last progress line
  (``step N/N``), callbacks (samples, checkpoints) included;
* ``end_of_run_s``: from there to the process exit (final samples, plot, export).

Usage::

    python benchmarks/phase_breakdown.py -- --workdir=/tmp/run --steps=300
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time

FIRST = re.compile(r"step 1/\d+ \| first step ([0-9.]+) s")
PROGRESS = re.compile(r"step (\d+)/(\d+) \|")


def stamped_run(cmd):
    """``(rc, [(seconds since start, line)])`` of ``cmd``'s merged output."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
    rc = proc.wait()
    lines.append((time.monotonic() - start, ""))  # the exit
    return rc, lines


def phases(lines):
    """The phase split of stamped output (see the module docstring)."""
    first = next(((t, float(m.group(1))) for t, line in lines
                  if (m := FIRST.search(line))), None)
    if first is None:
        raise ValueError("no 'first step' progress line in the output")
    last_t, last_step = first[0], 1
    for t, line in lines:
        m = PROGRESS.search(line)
        if m and int(m.group(1)) >= last_step:
            last_t, last_step = t, int(m.group(1))
    end = lines[-1][0]
    first_t, first_s = first
    return {"startup_s": round(first_t - first_s, 2), "first_step_s": round(first_s, 2),
            "training_s": round(last_t - first_t, 2),
            "end_of_run_s": round(end - last_t, 2), "total_s": round(end, 2),
            "steps": last_step}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _, train_flags = parser.parse_known_args()
    train_flags = [a for a in train_flags if a != "--"]
    rc, lines = stamped_run([sys.executable, "-m", "tfbegan.cli.train", *train_flags])
    if rc != 0:
        tail = [line for _, line in lines if line][-3:]
        sys.exit(f"tfbegan-train exited {rc}: {tail}")
    print(json.dumps({"command": "tfbegan-train " + " ".join(train_flags),
                      **phases(lines)}))


if __name__ == "__main__":
    main()
