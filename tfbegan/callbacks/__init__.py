"""Keras callbacks for BEGAN-family models, usable in any ``model.fit``.

Each callback reads the global training step from the model's first optimizer
(:func:`tfbegan.steps.global_step`), so it behaves the same in a fresh run, a resumed
run and a user's own ``fit`` loop, and every periodic one follows one cadence rule: it acts
once each time the step enters a new period of ``every`` steps
(:class:`PeriodicCallback`), which stays correct under
``fit(steps_per_execution > 1)``.

* :class:`SampleGrid` - PNG grid (and TensorBoard image) of G(z) at fixed z.
* :class:`ConvergenceLRDecay` - halve every optimizer's learning rate when M_global
  stalls (Berthelot et al. 2017, sec. 4.1), down to a floor.
* :class:`EquilibriumMonitor` - warn once when k sits at 0 or 1 for a long stretch.
* :class:`NaNGuard` - stop at the first non-finite loss, naming the step.
* :class:`ProgressLogger` - one log line per N steps with losses, k, M_global,
  images/s and ETA.
* :class:`MetricsCSV` - metric rows for :func:`plot_convergence`.
* :class:`ScalarSummaries` - TensorBoard scalars of metrics and learning rates.
* :class:`Checkpointer` - atomic periodic checkpoints (tfbegan.training.checkpoints).
* :class:`StopAtStep` - stop ``fit`` at the run's last global step.
* :class:`QualityEvaluator` - FID / KID / IS / MS-SSIM of samples during training.
* :class:`ReconstructionDistances` - l1 / GMSM / chrominance distances of D's
  reconstructions (Vertolli & Davies 2017, Table 2).

May import ``steps``, ``checks``, ``fileio``, ``imaging``, ``evaluation`` and
``training.checkpoints`` (the checkpointer); never ``cli``.
"""

from tfbegan.callbacks.base import (
                                    PeriodicCallback,
                                    PeriodTracker,
                                    StopAtStep,
                                    get_lr,
                                    optimizers,
                                    set_lr,
)
from tfbegan.callbacks.checkpointing import Checkpointer
from tfbegan.callbacks.monitoring import EquilibriumMonitor, NaNGuard
from tfbegan.callbacks.quality import QualityEvaluator, ReconstructionDistances
from tfbegan.callbacks.reporting import (
                                    MetricsCSV,
                                    ProgressLogger,
                                    ScalarSummaries,
                                    plot_convergence,
                                    read_metrics_csv,
)
from tfbegan.callbacks.sampling import SampleGrid
from tfbegan.callbacks.schedule import ConvergenceLRDecay

__all__ = ["Checkpointer", "ConvergenceLRDecay", "EquilibriumMonitor", "MetricsCSV",
           "NaNGuard", "PeriodTracker", "PeriodicCallback", "ProgressLogger",
           "QualityEvaluator", "ReconstructionDistances", "SampleGrid",
           "ScalarSummaries", "StopAtStep", "get_lr",
           "optimizers", "plot_convergence", "read_metrics_csv", "set_lr"]
