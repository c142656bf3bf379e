"""The recipe ``tfbegan-train`` chooses from the data, when ``--dataset`` names a folder
or a tfds dataset and neither ``--model`` nor a preset is given.

The no-flag run's preset (``tfbegan.cli.defaults.QUICKSTART``) is tuned for the
embedded 32 px grey digits; on other images it trains the wrong networks (its
DCGAN-style generator's second dense layer grows with the image area: 33.5 M weights
at 64 px) with settings that keep k at its upper clip. :func:`choose` starts instead
from Berthelot et al. 2017 (BEGAN, its network and optimiser), sizes the network and
the run to the images, and moves k faster than the paper (docs/your_images.md has
the table, each value with its reason). Any flag given on the command line still
wins.
"""

from __future__ import annotations

#: Per image size: (filters n, conv layers per scale, steps). Berthelot et al. 2017's
#: network halves the image down to 8 x 8, so a larger image adds a scale; the cost of
#: a step grows with the area times n^2, so n and the repeats shrink with the size to
#: keep a CPU run within the half hour at 64 px (docs/your_images.md; the emoji at
#: 64 px: n = 32 ran at half the images per second of n = 16).
BY_SIZE = {
    8: (64, 2, 4000),
    16: (64, 2, 4000),
    32: (64, 2, 3000),
    64: (16, 1, 3000),
    128: (16, 1, 2000),
    256: (16, 1, 1000),
}


def applies(flag_values):
    """Whether the data recipe replaces the no-flag preset: a dataset other than the
    embedded digits, and no ``--model`` (a preset that names one sets it)."""
    return (not flag_values["model"].present and flag_values["dataset"].present
            and flag_values.dataset != "mnist5k")


def choose(image_size):
    """The recipe's flag values for images of ``image_size`` px.

    Args:
      image_size: the training size, a power of two in [8, 256]. (One dataset size,
        3,781 images, has been measured: the number of images does not enter yet.)

    Returns:
      ``{flag name: value}``, to be applied where the command line is silent.
    """
    if image_size not in BY_SIZE:
        raise ValueError(f"image_size={image_size} has no recipe; sizes: "
                         f"{', '.join(map(str, BY_SIZE))}.")
    filters, repeats, steps = BY_SIZE[image_size]
    # Berthelot et al. 2017: its network (weights grow with the scales, not with the
    # area as the DCGAN-style G's dense layer does), batch 16, Adam 1e-4 (sec. 3.4.1,
    # 4.1), k_0 = 0 and the L1 loss (sec. 3.4).
    recipe = dict(model="began", architecture="began", filters=filters, repeats=repeats,
                  z_dim=64, h_dim=64, batch_size=16, learning_rate=1e-4, beta1=0.5,
                  k_init=0.0, eta=1, steps=steps, sample_every=250,
                  checkpoint_every=500, mixed_precision="auto")
    # Its gamma 0.5 with lambda_k 0.001 kept k near 0 and collapsed the emoji onto one
    # blob; 0.7 (its diverse end) with k ten times faster kept them apart.
    recipe.update(gamma=0.7, lambda_k=0.01)
    # No augmentation: Zhao et al. 2020's scored worse on the emoji at 2,000 steps
    # (docs/your_images.md); it pays in long runs, where D memorises small data.
    return recipe


def describe(recipe, image_size, num_images):
    """The one log line naming the recipe's values as the run takes them (flags
    given in place of the recipe's included), and how to override them."""
    count = "an unknown number of" if num_images is None else f"{num_images:,}"
    parts = [f"--model={recipe['model']}", f"--filters={recipe['filters']}",
             f"--repeats={recipe['repeats']}", f"--batch_size={recipe['batch_size']}",
             f"--steps={recipe['steps']}", f"--gamma={recipe['gamma']}",
             f"--lambda_k={recipe['lambda_k']}"]
    return (f"recipe for {count} images at {image_size} px: {' '.join(parts)} "
            f"(Berthelot et al. 2017's values otherwise; docs/your_images.md; any flag "
            f"given overrides it)")
