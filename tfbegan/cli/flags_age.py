"""Flags of AGE (Ulyanov et al. 2018): the weights lambda and mu."""

from absl import flags

from tfbegan.cli import flag_table
from tfbegan.cli.flag_table import Flag

FLAGS = flags.FLAGS


#: Ulyanov et al. 2018: Adam, learning rate 2e-4, beta1 0.5.
DEFAULTS = {"learning_rate": 2e-4}

#: Prefixed ``age_``: lambda / mu are ambiguous names.
TABLE = (
    Flag("float", "age_lambda_z", 1000.0, "lambda: weight of the latent reconstruction "
         "L_Z = ||z - e(g(z))||^2 in the generator loss V2 + lambda L_Z (Ulyanov et al. "
         "2018; AGE paper experiments: 1000).", kwarg="lambda_z"),
    Flag("float", "age_mu_x", 10.0, "mu: weight of the image reconstruction L_X = mean "
         "|x - g(e(x))| in the encoder objective V2 - mu L_X (Ulyanov et al. 2018; AGE "
         "paper experiments: 10).", kwarg="mu_x"),
    Flag("integer", "age_g_steps", 1, "Generator updates per encoder update (1: Eqs. "
         "10-11 once each per step; AGE reference code runs 2-3).", kwarg="g_steps"),
    Flag("float", "age_e_lr_ratio", 1.0, "The encoder learns at age_e_lr_ratio * "
         "--learning_rate, in (0, 100] (1: one rate; the AGE authors' code takes a rate "
         "per network).", kwarg="e_lr_ratio", only_if_set=True),
    Flag("bool", "age_batch_norm", False, "Batch norm in e's and g's blocks (conv -> "
         "batch norm -> ELU; the AGE authors' DCGAN-style networks use batch norm, "
         "Berthelot et al. 2017's backbone does not).", kwarg="batch_norm",
         only_if_set=True),
    Flag("enum", "age_architecture", "began", "Networks: began (Berthelot et al. "
         "2017's backbone) or dcgan, DCGAN-style networks as Ulyanov et al. 2018 use "
         "(g: --architecture=dcgan's generator; e: two strided convs with leaky ReLUs "
         "and a dense layer; tfbegan.encoder_networks).", kwarg="architecture",
         choices=("began", "dcgan"), only_if_set=True),
)


#: ``define_flags(flag_values=FLAGS)`` (idempotent) and ``model_kwargs(flag_values)``.
define_flags, model_kwargs = flag_table.functions(TABLE)
