"""Flags of ``tfbegan-train --model=vae_began`` (Khan et al. 2018, VAE+BEGAN).

Defaults are the paper's (sec. 4). The ``vae_`` prefix keeps them apart from BEGAN's
``--gamma``/``--eta``, which mean other things (BEGAN's gamma is the diversity ratio
that Khan et al. 2018 calls eta; BEGAN's eta is the pixel-loss exponent).
"""

from __future__ import annotations

from absl import flags

from tfbegan.checks import DEFAULT_PID_GAINS
from tfbegan.cli import flag_table, flags_began
from tfbegan.cli.flag_table import Flag

FLAGS = flags.FLAGS

#: Khan et al. 2018 sec. 4: Adam with learning rate 5e-5.
DEFAULTS = {"learning_rate": 5e-5}

def _pid_gains(values):
    try:
        return tuple(float(g) for g in values)
    except ValueError:
        raise ValueError(f"--vae_pid_gains={','.join(values)} must be three numbers, "
                         f"e.g. 1e-3,1e-5,1e-5.") from None


#: Khan et al. 2018 sec. 4 (and two options of ours, off).
TABLE = (
    Flag("float", "vae_alpha", 0.3, "alpha, weight of L_v (the discriminator's "
         "reconstruction loss of VAE reconstructions) in L_gen, L_dis and e_t (Khan et "
         "al. 2018 sec. 4).", kwarg="alpha"),
    Flag("float", "vae_beta", 0.1, "beta, weight of the learned-similarity loss L_s in "
         "L_gen and L_enc (Khan et al. 2018 sec. 4, Eq. 9).", kwarg="beta"),
    Flag("float", "vae_gamma", 0.1, "gamma, weight of the VAE content loss L_e in L_gen "
         "and L_enc (Khan et al. 2018 sec. 4, Eq. 2).", kwarg="gamma"),
    Flag("float", "vae_eta", 0.5, "eta, the diversity ratio (E[L_g] + alpha E[L_v]) / "
         "E[L_d] targeted by the k controller (Khan et al. 2018 sec. 4, Eq. 10).",
         kwarg="eta"),
    Flag("list", "vae_pid_gains", [repr(g) for g in DEFAULT_PID_GAINS],
         "lambda_1,lambda_2,lambda_3: gains of the PID k_t controller (Khan et al. 2018 "
         "sec. 4, Eq. 12).", kwarg="pid_gains", convert=_pid_gains),
    Flag("float", "vae_k_init", 0.0, "k_0 of the PID controller, in [0, 1] (Khan et al. "
         "2018: 0).", kwarg="k_init"),
    Flag("float", "vae_kl_weight", 1.0, "Weight of the KL term L_n in L_enc (Khan et al. "
         "2018 Eq. 15: 1; about 1e-3 with --vae_gamma=1 keeps the encoder informative in "
         "short runs on the embedded digits).", kwarg="kl_weight"),
    Flag("enum", "vae_kl_scale", "sum", "Normalisation of L_n: 'sum' over latent "
         "dimensions (Khan et al. 2018 Eq. 3) or 'per_pixel', divided by the number of "
         "pixel values like the per-pixel mean L_e (Eq. 2); not in the paper (the sum "
         "makes the encoder collapse to the prior on the embedded digits, "
         "docs/models.md).", kwarg="kl_scale", choices=("sum", "per_pixel")),
    Flag("integer", "vae_warmup_steps", 0, "VAE warm-up, not in Khan et al. 2018: G's "
         "loss leaves out its adversarial terms L_g + alpha L_v for the first N steps "
         "(0 = off).", kwarg="warmup_steps"),
    Flag("string", "vae_distance", None, "Distance of L_d, L_g and L_v as BEGAN's "
         "--distance (e.g. 'l2'; default: Khan et al. 2018's l1).", kwarg="distance"),
    Flag("enum", "vae_architecture", "began", "Networks of E, G and D: began (Khan et "
         "al. 2018: the BEGAN backbone) or dcgan, the cheaper DCGAN-style pair of public "
         "MNIST BEGANs as --architecture (E: D's DCGAN-style encoder to 2 N_z, without "
         "batch norm); not in the paper.", kwarg="architecture",
         choices=("began", "dcgan")),
    # BEGAN's own row (no vae_ prefix): the flag means the same for every AE discriminator.
    flags_began.AUGMENT,
)


#: ``define_flags(flag_values=FLAGS)`` (idempotent) and ``model_kwargs(flag_values)``.
define_flags, model_kwargs = flag_table.functions(TABLE)
