"""Flags of ``tfbegan-train --model=denoising_began`` (Li et al. 2018, denoising BEGAN).

BEGAN's own flags (``--gamma``, ``--lambda_k``, ...) come from
``tfbegan.cli.flags_began``; this module adds the denoising loss (Eq. 6), the
architecture options of Fig. 3 and historical averaging (Table 1, "+HA"). The
``denoise_`` prefix keeps the Eq. 6 flags apart from other families' names.
"""

from __future__ import annotations

from absl import flags

from tfbegan.cli import flags_began

#: lambda_noise of the no-flag run (flags/quickstart.flags); Li et al. 2018 uses 2.
QUICKSTART_LAMBDA = 4.0


def define_flags():
    """Defines the denoising-BEGAN flags (idempotent; each flag at most once)."""
    f = flags.FLAGS
    if "denoise_lambda" not in f:
        flags.DEFINE_float("denoise_lambda", QUICKSTART_LAMBDA,
                           "lambda_noise, weight of the denoising loss "
                           "mean((D(x + n) - x)^2) in L_D (Li et al. 2018 Eq. 6: 2; the "
                           f"quickstart's {QUICKSTART_LAMBDA:g} keeps k high and the "
                           "digits varied, docs/quality.md); 0 = off (Table 1 rows "
                           "'Baseline' and '+BN').")
    if "denoise_std" not in f:
        flags.DEFINE_float("denoise_std", 1.0,
                           "sigma of the Gaussian corruption n ~ N(0, sigma^2) added to "
                           "real images in [-1, 1] (Li et al. 2018 sec. III: 1).")
    # Shared names: plain BEGAN takes the same architecture options, so another
    # flag module may define them first. Off by default: the quickstart (this model
    # family on the embedded digits) uses Berthelot et al. 2017's architecture, because batch
    # norm collapsed every digit run onto one class (docs/quality.md); Li et al. 2018's
    # flagfiles turn both on.
    if "batch_norm" not in f:
        flags.DEFINE_bool("batch_norm", False,
                          "Batch norm after the second conv of each block in encoder, "
                          "decoder and generator (Li et al. 2018 Fig. 3 and its 'ours': on; "
                          "Table 1 '+BN').")
    if "skip_connections" not in f:
        flags.DEFINE_bool("skip_connections", False,
                          "Concatenate the up-sampled first decoder tensor H0 with each "
                          "up-sampled tensor (Li et al. 2018 Fig. 3 'SC' and its 'ours': on; "
                          "Berthelot et al. 2017 sec. 4.1).")
    if "ha_weight" not in f:
        flags.DEFINE_float("ha_weight", 0.0,
                           "Weight of historical averaging ||theta - mean of past "
                           "theta||^2 per network (Salimans et al. 2016; Li et al. 2018 Table 1 "
                           "'+HA', weight not given); 0 = off.")


def model_kwargs(FLAGS):  # noqa: N803 - absl's FLAGS object
    """``DenoisingBEGAN`` kwargs: BEGAN's (``flags_began``) plus Li et al. 2018's options."""
    kwargs = dict(flags_began.model_kwargs(FLAGS))
    kwargs.update(lambda_noise=FLAGS.denoise_lambda, noise_std=FLAGS.denoise_std,
                  batch_norm=FLAGS.batch_norm, skip_connections=FLAGS.skip_connections,
                  ha_weight=FLAGS.ha_weight)
    return kwargs
