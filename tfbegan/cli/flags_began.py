"""Flags of plain BEGAN (Berthelot et al. 2017): gamma, lambda_k, eta, k_init, distance, controller."""

from absl import flags

FLAGS = flags.FLAGS


def define_flags():
    """Defines the BEGAN flags (defaults: the quickstart recipe; help: paper values)."""
    # Defaults: the quickstart recipe for the embedded digits (flags/quickstart.flags
    # explains the search); the paper's values are in each help text.
    flags.DEFINE_float("gamma", 1.0, "Diversity ratio gamma = E[L(G(z))]/E[L(x)] in "
                       "[0, 1] (Berthelot et al. 2017 Eq. 5; paper experiments 0.3-0.7, 0.5 typical).")
    flags.DEFINE_float("lambda_k", 0.05, "Proportional gain of k_t (Berthelot et al. 2017 sec. 3.4: "
                       "0.001).")
    flags.DEFINE_integer("eta", 2, "Exponent of the pixel loss |v - D(v)|^eta, 1 or 2 "
                         "(Berthelot et al. 2017 sec. 3.1: 1).")
    flags.DEFINE_float("k_init", 0.0, "Initial k_0 (Berthelot et al. 2017 sec. 3.4: 0).")
    flags.DEFINE_string("distance", None, "Auto-encoder loss as weighted distances, "
                        "e.g. 'l1:2,gmsm:1' (Vertolli & Davies 2017 Eq. 6: l1, l2, gmsm, chrom). "
                        "Default: the pixel loss with --eta (Berthelot et al. 2017).")
    flags.DEFINE_string("controller", "proportional", "k_t controller: proportional "
                        "(Berthelot et al. 2017 sec. 3.4) or pid (Khan et al. 2018 Eq. 11).")


def model_kwargs(flag_values=FLAGS):
    """BEGAN constructor arguments beyond the backbone."""
    f = flag_values
    return {"gamma": f.gamma, "lambda_k": f.lambda_k, "eta": f.eta, "k_init": f.k_init,
            "distance": f.distance, "controller": f.controller}
