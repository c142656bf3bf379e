"""Flags of BiGAN (Donahue et al. 2017): D's width and the G/E loss."""

from absl import flags

from tfbegan.cli import flag_table
from tfbegan.cli.flag_table import Flag

FLAGS = flags.FLAGS


#: Donahue et al. 2017 (MNIST): Adam, learning rate 2e-4, beta1 0.5.
DEFAULTS = {"learning_rate": 2e-4}

#: Prefixed ``bigan_``: the names are shared with other models.
TABLE = (
    Flag("integer", "bigan_d_units", 256, "Width of the joint (x, z) hidden layer of the "
         "BiGAN discriminator D(x, z) (ours; the BiGAN paper's MNIST discriminator uses "
         "1024-unit joint layers).", kwarg="d_units"),
    Flag("bool", "bigan_non_saturating", True, "G and E minimise -log D(G(z), z) and "
         "-log(1 - D(x, E(x))) (BiGAN paper sec. 3.4, 'inverted' labels) instead of the "
         "minimax value of Donahue et al. 2017 (--nobigan_non_saturating).",
         kwarg="non_saturating"),
    Flag("float", "bigan_d_dropout", 0.0, "Dropout rate in D's joint (x, z) layers, in "
         "[0, 1) (not in Donahue et al. 2017; ALI-style discriminators use it).",
         kwarg="d_dropout"),
    Flag("enum", "bigan_prior", "uniform", "Latent prior: U[-1, 1] with a tanh on E "
         "(Donahue et al. 2017) or N(0, I) with a linear E (E's tanh saturates on the "
         "embedded digits, docs/models.md).", kwarg="prior",
         choices=("uniform", "normal")),
    Flag("bool", "bigan_batch_norm", False, "Batch norm in G's, E's and D's image blocks "
         "(conv -> batch norm -> ELU, DCGAN-style; not in Berthelot et al. 2017's "
         "backbone). With --bigan_architecture=dcgan it adds batch norm to E only (G "
         "always has it, D's image stack never).", kwarg="batch_norm"),
    Flag("enum", "bigan_architecture", "began", "Networks: began (Berthelot et al. "
         "2017's backbone) or dcgan, DCGAN-style networks as Donahue et al. 2017 use "
         "(G: --architecture=dcgan's generator; E and D: two strided convs with leaky "
         "ReLUs; tfbegan.networks.encoders).", kwarg="architecture",
         choices=("began", "dcgan")),
    Flag("float", "bigan_cycle_weight", 0.0, "Weight of ALICE's cycle-consistency term "
         "lambda * mean |x - G(E(x))| in G's and E's losses (Li et al. 2017; not in "
         "Donahue et al. 2017: 0, the default, is their game).", kwarg="cycle_weight"),
)


#: ``define_flags(flag_values=FLAGS)`` (idempotent) and ``model_kwargs(flag_values)``.
define_flags, model_kwargs = flag_table.functions(TABLE)
