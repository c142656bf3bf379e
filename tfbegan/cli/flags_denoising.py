"""Flags of ``tfbegan-train --model=denoising_began`` (Li et al. 2018, denoising BEGAN).

BEGAN's own flags (``--gamma``, ``--lambda_k``, ``--batch_norm``, ...) come from
``tfbegan.cli.flags_began``; this module adds the denoising loss (Eq. 6) and
historical averaging (Table 1, "+HA"). Every flag of this family carries the
``denoise_`` prefix, as every BiGAN, AGE and VAE+BEGAN flag carries its family's.
"""

from __future__ import annotations

from absl import flags

from tfbegan.cli import flag_table, flags_began
from tfbegan.cli.flag_table import Flag

FLAGS = flags.FLAGS

#: Li et al. 2018's model "ours" (sec. IV): gamma 1 and batch norm with skip
#: connections. The no-flag run turns both architecture options off and raises
#: lambda_noise to 4 (``tfbegan.cli.defaults.QUICKSTART``; batch norm collapsed
#: every digit run onto one class, docs/results.md).
DEFAULTS = {"gamma": 1.0, "batch_norm": True, "skip_connections": True}


#: Li et al. 2018 Eq. 6 and Table 1, and two options from other papers (off).
TABLE = (
    Flag("float", "denoise_lambda", 2.0, "lambda_noise, weight of the denoising loss "
         "mean((D(x + n) - x)^2) in L_D (Li et al. 2018 Eq. 6: 2; the no-flag run: 4, "
         "which keeps k high and the digits varied, docs/results.md); 0 = off (Table 1 "
         "rows 'Baseline' and '+BN').", kwarg="lambda_noise"),
    Flag("float", "denoise_std", 1.0, "sigma of the Gaussian corruption n ~ N(0, "
         "sigma^2) added to real images in [-1, 1] (Li et al. 2018 sec. III: 1).",
         kwarg="noise_std"),
    Flag("float", "denoise_ha_weight", 0.0, "Weight of historical averaging ||theta - mean of "
         "past theta||^2 per network (Salimans et al. 2016; Li et al. 2018 Table 1 "
         "'+HA', weight not given); 0 = off.", kwarg="ha_weight",
         renamed_from=("ha_weight",)),
    Flag("float", "denoise_pull_away_weight", 0.0, "Weight of EBGAN's pull-away term on D's "
         "codes of G(z) in L_G (Zhao et al. 2017 Eq. 6; 0.1 there); 0 = off (Li et al. "
         "2018).", kwarg="pull_away_weight", renamed_from=("pull_away_weight",)),
    Flag("float", "denoise_latent_constraint_weight", 0.0, "Weight of BEGAN-CS's latent "
         "constraint mean|E(G(z)) - z| in L_D (Chang et al. 2018: 0.1); needs --h_dim "
         "equal to --z_dim; 0 = off (Li et al. 2018).", kwarg="latent_constraint_weight",
         renamed_from=("latent_constraint_weight",)),
    Flag("enum", "denoise_bn_statistics", "joint", "With --batch_norm: D normalizes "
         "real, noisy and generated images with one set of batch statistics ('joint', "
         "Li et al. 2018's one data flow) or real and generated images each with their "
         "own ('separate'; not in the paper: with 'joint' k stays at 0 on the embedded "
         "digits, docs/results.md).", kwarg="bn_statistics", choices=("joint", "separate")),
)


def define_flags(flag_values=FLAGS):
    """Defines the denoising-BEGAN flags on ``flag_values`` (idempotent)."""
    flag_table.define(TABLE, flag_values)


def model_kwargs(flag_values=FLAGS):
    """``DenoisingBEGAN`` kwargs: BEGAN's (``flags_began``) plus Li et al. 2018's options."""
    return {**flags_began.model_kwargs(flag_values),
            **flag_table.model_kwargs(TABLE, flag_values)}
