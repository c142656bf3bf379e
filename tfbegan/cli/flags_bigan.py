"""Flags of BiGAN (Donahue et al. 2017): D's width and the G/E loss."""

from absl import flags

FLAGS = flags.FLAGS


#: Donahue et al. 2017 (MNIST): Adam, learning rate 2e-4, beta1 0.5.
DEFAULTS = {"learning_rate": 2e-4}

def define_flags(flag_values=FLAGS):
    """Defines the ``--bigan_*`` flags (prefixed: names shared with other models)."""
    flags.DEFINE_integer("bigan_d_units", 256, "Width of the joint (x, z) hidden layer of "
                         "the BiGAN discriminator D(x, z) (ours; the BiGAN paper's MNIST "
                         "discriminator uses 1024-unit joint layers).",
                         flag_values=flag_values)
    flags.DEFINE_bool("bigan_non_saturating", True, "G and E minimise -log D(G(z), z) and "
                      "-log(1 - D(x, E(x))) (BiGAN paper sec. 3.4, 'inverted' labels) "
                      "instead of the minimax value of Donahue et al. 2017 "
                      "(--nobigan_non_saturating).", flag_values=flag_values)
    flags.DEFINE_float("bigan_d_dropout", 0.0, "Dropout rate in D's joint (x, z) layers, "
                       "in [0, 1) (not in Donahue et al. 2017; ALI-style discriminators use "
                       "it).", flag_values=flag_values)
    flags.DEFINE_enum("bigan_prior", "uniform", ["uniform", "normal"],
                      "Latent prior: U[-1, 1] with a tanh on E (Donahue et al. 2017) or "
                      "N(0, I) with a linear E (E's tanh saturates on the embedded "
                      "digits, docs/quality.md).", flag_values=flag_values)
    flags.DEFINE_bool("bigan_batch_norm", False, "Batch norm in G's, E's and D's image "
                      "blocks (conv -> batch norm -> ELU, DCGAN-style; not in Berthelot et "
                      "al. 2017's backbone).", flag_values=flag_values)


def model_kwargs(flag_values=FLAGS):
    """BiGAN constructor arguments beyond the backbone."""
    f = flag_values
    kwargs = {"d_units": f.bigan_d_units, "non_saturating": f.bigan_non_saturating}
    # Only when set, so that configs of earlier runs (without them) still match.
    if f.bigan_d_dropout > 0:
        kwargs["d_dropout"] = f.bigan_d_dropout
    if f.bigan_prior != "uniform":
        kwargs["prior"] = f.bigan_prior
    if f.bigan_batch_norm:
        kwargs["batch_norm"] = True
    return kwargs
