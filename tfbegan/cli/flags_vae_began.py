"""Flags of ``tfbegan-train --model=vae_began`` (Khan et al. 2018, VAE+BEGAN).

Defaults are the paper's (sec. 4). The ``vae_`` prefix keeps them apart from BEGAN's
``--gamma``/``--eta``, which mean other things (BEGAN's gamma is the diversity ratio
that Khan et al. 2018 calls eta; BEGAN's eta is the pixel-loss exponent).
"""

from __future__ import annotations

from absl import flags

from tfbegan import equilibrium

#: Khan et al. 2018 sec. 4: Adam with learning rate 5e-5.
DEFAULTS = {"learning_rate": 5e-5}

def define_flags(flag_values=None):
    """Defines the VAE+BEGAN flags on ``flag_values`` (absl's FLAGS by default;
    idempotent)."""
    fv = flags.FLAGS if flag_values is None else flag_values
    if "vae_alpha" in fv:
        return
    flags.DEFINE_float(
        "vae_alpha", 0.3, "alpha, weight of L_v (the discriminator's reconstruction loss "
        "of VAE reconstructions) in L_gen, L_dis and e_t (Khan et al. 2018 sec. 4).",
        flag_values=fv)
    flags.DEFINE_float(
        "vae_beta", 0.1, "beta, weight of the learned-similarity loss L_s in L_gen and "
        "L_enc (Khan et al. 2018 sec. 4, Eq. 9).", flag_values=fv)
    flags.DEFINE_float(
        "vae_gamma", 0.1, "gamma, weight of the VAE content loss L_e in L_gen and L_enc "
        "(Khan et al. 2018 sec. 4, Eq. 2).", flag_values=fv)
    flags.DEFINE_float(
        "vae_eta", 0.5, "eta, the diversity ratio (E[L_g] + alpha E[L_v]) / E[L_d] "
        "targeted by the k controller (Khan et al. 2018 sec. 4, Eq. 10).", flag_values=fv)
    flags.DEFINE_list(
        "vae_pid_gains", [repr(g) for g in equilibrium.DEFAULT_PID_GAINS],
        "lambda_1,lambda_2,lambda_3: gains of the PID k_t controller (Khan et al. 2018 sec. 4, "
        "Eq. 12).", flag_values=fv)
    flags.DEFINE_float("vae_k_init", 0.0, "k_0 of the PID controller, in [0, 1] "
                       "(Khan et al. 2018: 0).", flag_values=fv)
    flags.DEFINE_float(
        "vae_kl_weight", 1.0, "Weight of the KL term L_n in L_enc (Khan et al. 2018 Eq. 15: 1; "
        "about 1e-3 with --vae_gamma=1 keeps the encoder informative in short runs on "
        "the embedded digits).", flag_values=fv)
    flags.DEFINE_enum(
        "vae_kl_scale", "sum", ["sum", "per_pixel"],
        "Normalisation of L_n: 'sum' over latent dimensions (Khan et al. 2018 Eq. 3) or "
        "'per_pixel', divided by the number of pixel values like the per-pixel mean L_e "
        "(Eq. 2); not in the paper (the sum makes the encoder collapse to the prior on "
        "the embedded digits, docs/quality.md).", flag_values=fv)
    flags.DEFINE_integer(
        "vae_warmup_steps", 0, "VAE warm-up, not in Khan et al. 2018: G's loss leaves out "
        "its adversarial terms L_g + alpha L_v for the first N steps (0 = off).",
        flag_values=fv)
    flags.DEFINE_string(
        "vae_distance", None, "Distance of L_d, L_g and L_v as BEGAN's --distance "
        "(e.g. 'l2'; default: Khan et al. 2018's l1).", flag_values=fv)
    flags.DEFINE_enum(
        "vae_architecture", "began", ["began", "dcgan"],
        "Networks of E, G and D: began (Khan et al. 2018: the BEGAN backbone) or dcgan, "
        "the cheaper DCGAN-style pair of public MNIST BEGANs as --architecture "
        "(E: D's DCGAN-style encoder to 2 N_z, without batch norm); not in the paper.",
        flag_values=fv)

def model_kwargs(FLAGS):
    """``VAEBEGAN`` constructor kwargs beyond the backbone ones."""
    try:
        gains = tuple(float(g) for g in FLAGS.vae_pid_gains)
    except ValueError:
        raise ValueError(f"--vae_pid_gains={','.join(FLAGS.vae_pid_gains)} must be three "
                         f"numbers, e.g. 1e-3,1e-5,1e-5.") from None
    kwargs = {"alpha": FLAGS.vae_alpha, "beta": FLAGS.vae_beta, "gamma": FLAGS.vae_gamma,
              "eta": FLAGS.vae_eta, "pid_gains": gains, "k_init": FLAGS.vae_k_init,
              "kl_weight": FLAGS.vae_kl_weight, "kl_scale": FLAGS.vae_kl_scale,
              "warmup_steps": FLAGS.vae_warmup_steps}
    # Only when given, so that configs of earlier runs still match.
    if FLAGS.vae_distance:
        kwargs["distance"] = FLAGS.vae_distance
    if FLAGS.vae_architecture != "began":
        kwargs["architecture"] = FLAGS.vae_architecture
    return kwargs
