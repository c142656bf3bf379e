"""Flags of AGE (Ulyanov et al. 2018): the weights lambda and mu, the networks, and
the options from the authors' public code or ours (each off by default)."""

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
         "per network).", kwarg="e_lr_ratio"),
    Flag("bool", "age_batch_norm", False, "Batch norm in e's and g's blocks (conv -> "
         "batch norm -> ELU; the AGE authors' DCGAN-style networks use batch norm, "
         "Berthelot et al. 2017's backbone does not).", kwarg="batch_norm"),
    Flag("enum", "age_architecture", "began", "Networks: began (Berthelot et al. "
         "2017's backbone) or dcgan, DCGAN-style networks as Ulyanov et al. 2018 use "
         "(g: --architecture=dcgan's generator; e: two strided convs with leaky ReLUs "
         "and a dense layer; tfbegan.networks.encoders).", kwarg="architecture",
         choices=("began", "dcgan")),
    Flag("enum", "age_kl_form", "gaussian", "Delta: gaussian (the KL of the batch's "
         "fitted Gaussian to N(0, I), per dimension) or variance_as_std (the AGE "
         "authors' code: the fitted variance where the standard deviation goes).",
         kwarg="kl_form", choices=("gaussian", "variance_as_std")),
    Flag("enum", "age_latent_distance", "squared_l2", "L_Z: squared_l2 (||z - "
         "e(g(z))||^2, as printed) or cosine ((1 - cos) / N_z, the AGE authors' code's "
         "match, which their weight 1000 multiplies).", kwarg="latent_distance",
         choices=("squared_l2", "cosine")),
    Flag("bool", "age_recon_moving_statistics", False, "L_X's g(e(x)) with g's batch "
         "norm in inference mode (moving statistics of prior batches), as reconstruct() "
         "at test time, not the e(x) batch's own statistics (ours).",
         kwarg="recon_moving_statistics"),
    Flag("bool", "age_adaptive_adversary", False, "The AGE authors' code's adaptive "
         "adversary: e's weight on Delta(e(g(Z))) starts at 1, rises by 0.001 per step "
         "and drops by 0.02 while either Delta exceeds 1.05 times its minimum on the "
         "sphere (floored at 0).", kwarg="adaptive_adversary"),
    Flag("float", "age_kl_fake_weight", 1.0, "w: e's weight on Delta(e(g(Z))) in its "
         "objective Delta(e(X)) - w Delta(e(g(Z))) + mu L_X (1: Eq. 11; the AGE authors' "
         "code's e_updates KL_fake weight; with --age_adaptive_adversary its start).",
         kwarg="kl_fake_weight"),
    Flag("bool", "age_encoder_real_statistics", False, "e's batch-norm moving "
         "statistics from real batches only (e(g(z)) calls put them back), the batches "
         "encode() meets at test time (ours).", kwarg="encoder_real_statistics"),
    Flag("float", "age_g_mu_x", 0.0, "Weight of L_X = mean |x - g(e(x))| in g's loss "
         "(0: Eq. 10; the AGE authors' code's g_updates match_x weight), on the update "
         "from each step's joint pass.", kwarg="g_mu_x"),
)


#: ``define_flags(flag_values=FLAGS)`` (idempotent) and ``model_kwargs(flag_values)``.
define_flags, model_kwargs = flag_table.functions(TABLE)
