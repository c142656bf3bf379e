"""Flags of plain BEGAN (Berthelot et al. 2017): gamma, lambda_k, eta, k_init, distance,
controller, the architecture options batch norm and skip connections (Li et al.
2018, Fig. 3), which every BEGAN takes, and DiffAugment (Zhao et al. 2020), which
VAE+BEGAN takes too (``flags_vae_began`` lists the row)."""

from absl import flags

from tfbegan.cli import flag_table
from tfbegan.cli.flag_table import Flag

FLAGS = flags.FLAGS

#: Berthelot et al. 2017 uses the core flags' own defaults.
DEFAULTS = {}

def _augment_policy(value):
    """The canonical policy (``"color, cutout"`` -> ``"color,cutout"``), so config.json
    and the checkpoint store one spelling and a rerun spelt otherwise resumes; a bad
    name fails here with the model's message."""
    from tfbegan.models.augment import canonical_policy  # TensorFlow: only when read

    return canonical_policy(value)


#: DiffAugment (Zhao et al. 2020), read by every family whose D is an auto-encoder:
#: this table's (began, denoising_began) and flags_vae_began's, which lists this row.
AUGMENT = Flag(
    "string", "augment", "", "DiffAugment (Zhao et al. 2020): comma-separated policies "
    "from color (brightness, saturation, contrast), translation (up to 1/8 of the "
    "image, filled with 0) and cutout (a square of half the image set to 0), e.g. "
    "color,translation,cutout; applied in training to the real and the generated "
    "images D sees, so L(x), L(G(z)), k and M_global are those of the augmented "
    "images. Empty = off (Berthelot et al. 2017). BEGAN, denoising_began and "
    "vae_began only: BiGAN and AGE have no auto-encoder discriminator.",
    convert=_augment_policy)

#: Defaults: Berthelot et al. 2017; the no-flag run's values are named in each help.
TABLE = (
    Flag("float", "gamma", 0.5, "Diversity ratio gamma = E[L(G(z))]/E[L(x)] in [0, 1] "
         "(Berthelot et al. 2017 Eq. 5; paper experiments 0.3-0.7; denoising_began: 1; "
         "the no-flag run: 0.85)."),
    Flag("float", "lambda_k", 0.001, "Proportional gain of k_t (Berthelot et al. 2017 "
         "sec. 3.4: 0.001; the no-flag run: 0.05)."),
    Flag("integer", "eta", 1, "Exponent of the pixel loss |v - D(v)|^eta, 1 or 2 "
         "(Berthelot et al. 2017 sec. 3.1: 1; the no-flag run: 2)."),
    Flag("float", "k_init", 0.0, "Initial k_0 (Berthelot et al. 2017 sec. 3.4: 0)."),
    Flag("string", "distance", None, "Auto-encoder loss as weighted distances, e.g. "
         "'l1:2,gmsm:1' (Vertolli & Davies 2017 Eq. 6: l1, l2, gmsm, chrom). Default: "
         "the pixel loss with --eta (Berthelot et al. 2017)."),
    Flag("string", "controller", "proportional", "k_t controller: proportional "
         "(Berthelot et al. 2017 sec. 3.4) or pid (Khan et al. 2018 Eq. 11)."),
    Flag("bool", "batch_norm", False, "Batch norm after the second conv of each block in "
         "encoder, decoder and generator (Li et al. 2018 Fig. 3 and its 'ours': on, the "
         "denoising_began default; Table 1 '+BN'; Berthelot et al. 2017: off)."),
    Flag("bool", "skip_connections", False, "Concatenate the up-sampled first decoder "
         "tensor H0 with each up-sampled tensor (Li et al. 2018 Fig. 3 'SC' and its "
         "'ours': on, the denoising_began default; Berthelot et al. 2017 sec. 4.1; with "
         "--architecture=dcgan in G only; the no-flag run: on)."),
    Flag("enum", "architecture", "began", "Networks: began (Berthelot et al. 2017 sec. "
         "3.5, every paper preset) or dcgan, the much cheaper DCGAN-style pair of public "
         "MNIST BEGANs (one strided conv and a dense code in D; dense layers with batch "
         "norm and two transposed convs in G; tfbegan.networks.began; the no-flag run: dcgan).",
         choices=("began", "dcgan")),
    Flag("float", "generator_ema", 0.0, "Decay d in [0, 1) of an exponential moving "
         "average of G's weights that samples, grids, quality callbacks and the export "
         "come from (Yazici et al. 2019; warmed up as min(d, (1 + t) / (10 + t)) after t "
         "generator steps; tfbegan.models.ema); 0 = off (Berthelot et al. 2017, Li et "
         "al. 2018)."),
    AUGMENT,
)


#: ``define_flags(flag_values=FLAGS)`` (idempotent) and ``model_kwargs(flag_values)``.
define_flags, model_kwargs = flag_table.functions(TABLE)
