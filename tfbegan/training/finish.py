"""The end of a run: final samples, reconstruction grid, convergence plot and export,
and the marker that says they were all written.

A run that reaches its last step but is stopped (SIGTERM, SIGINT, a full disk) before
its end-of-run work is done must not be left without an export: the work is done under
a :class:`~tfbegan.training.preemption.SignalCatcher` (a first signal is noted and the
work finished, a second one kills as usual), and only once all of it is written does
``finished.json`` record the step. A rerun at that step with no marker (or a marker
for an earlier step) does the work again instead of saying "nothing to train".
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from tfbegan.callbacks import reporting, sampling
from tfbegan.steps import global_step
from tfbegan.training import preemption

logger = logging.getLogger("tfbegan")

#: The marker of a finished run, in its workdir.
FINISHED_FILE = "finished.json"


def finished_step(workdir):
    """The step whose end-of-run work is complete, or None (no or unreadable marker)."""
    try:
        with open(os.path.join(workdir, FINISHED_FILE)) as f:
            step = json.load(f).get("step")
    except (OSError, ValueError, AttributeError):
        return None
    return step if isinstance(step, int) else None


def _mark_finished(workdir, step, out):
    path = os.path.join(workdir, FINISHED_FILE)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump({"step": step, **{k: v for k, v in out.items() if isinstance(v, str)}},
                  f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def finish_run(config, workdir, model, real, samples=None):
    """Writes the chief's end-of-run artefacts, then ``finished.json``; returns their
    paths. ``samples``: the run's SampleGrid (a new one when None, e.g. on a rerun)."""
    if samples is None:
        samples = sampling.SampleGrid(os.path.join(workdir, "samples"),
                                      every=config.sample_every, seed=config.seed + 1234)
        samples.set_model(model)
    step = global_step(model)
    catcher = preemption.SignalCatcher()
    with catcher:
        out = _artefacts(config, workdir, model, real, samples, step)
    if catcher.received is not None:
        logger.warning("received %s during the end-of-run work; finished it first.",
                       preemption.signal_name(catcher.received))
    _mark_finished(workdir, step, out)
    return out


def _artefacts(config, workdir, model, real, samples, step):
    out = {"samples": samples.write(step)}
    if getattr(model, "has_encoder", False):
        # x -> E(x) -> G(E(x)) for models that infer z (the AGE paper's figures).
        from tfbegan.evaluation.reconstruction import save_reconstruction_grid

        out["reconstructions"] = save_reconstruction_grid(
            os.path.join(workdir, "reconstructions.png"), model.encode,
            lambda z: model.generator(z, training=False), np.asarray(real), columns=8,
            scale=2)
    csv_path = os.path.join(workdir, "metrics.csv")
    if os.path.exists(csv_path):
        # Models without k / M_global (BiGAN, AGE) plot their own metrics.
        keys = {} if hasattr(model, "k") else {"keys": (
            model.convergence_metric, *[n for n in model.metric_names()
                                        if n != model.convergence_metric])}
        out["convergence_plot"] = reporting.plot_convergence(
            csv_path, os.path.join(workdir, "convergence.png"), **keys)
    if config.export_base:
        from tfbegan.serving.export import export_generator

        out["export_dir"] = export_generator(model, config.export_base, step=step)
        logger.info("exported the generator to %s", out["export_dir"])
    return out
