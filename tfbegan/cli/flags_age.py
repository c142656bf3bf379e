"""Flags of AGE (Ulyanov et al. 2018): the weights lambda and mu."""

from absl import flags

FLAGS = flags.FLAGS


#: Ulyanov et al. 2018: Adam, learning rate 2e-4, beta1 0.5.
DEFAULTS = {"learning_rate": 2e-4}

def define_flags(flag_values=FLAGS):
    """Defines the ``--age_*`` flags (prefixed: lambda/mu names are ambiguous)."""
    flags.DEFINE_float("age_lambda_z", 1000.0, "lambda: weight of the latent "
                       "reconstruction L_Z = ||z - e(g(z))||^2 in the generator loss "
                       "V2 + lambda L_Z (Ulyanov et al. 2018; AGE paper experiments: 1000).",
                       flag_values=flag_values)
    flags.DEFINE_float("age_mu_x", 10.0, "mu: weight of the image reconstruction "
                       "L_X = mean |x - g(e(x))| in the encoder objective V2 - mu L_X "
                       "(Ulyanov et al. 2018; AGE paper experiments: 10).",
                       flag_values=flag_values)
    flags.DEFINE_integer("age_g_steps", 1, "Generator updates per encoder update (1: Eqs. "
                         "10-11 once each per step; AGE reference code runs 2-3).",
                         flag_values=flag_values)
    flags.DEFINE_float("age_e_lr_ratio", 1.0, "The encoder learns at age_e_lr_ratio * "
                       "--learning_rate, in (0, 100] (1: one rate; the AGE authors' code "
                       "takes a rate per network).", flag_values=flag_values)
    flags.DEFINE_bool("age_batch_norm", False, "Batch norm in e's and g's blocks (conv -> "
                      "batch norm -> ELU; the AGE authors' DCGAN-style networks use batch "
                      "norm, Berthelot et al. 2017's backbone does not).",
                      flag_values=flag_values)


def model_kwargs(flag_values=FLAGS):
    """AGE constructor arguments beyond the backbone."""
    f = flag_values
    kwargs = {"lambda_z": f.age_lambda_z, "mu_x": f.age_mu_x, "g_steps": f.age_g_steps}
    # Only when set, so that configs of earlier runs (without them) still match.
    if f.age_e_lr_ratio != 1.0:
        kwargs["e_lr_ratio"] = f.age_e_lr_ratio
    if f.age_batch_norm:
        kwargs["batch_norm"] = True
    return kwargs
