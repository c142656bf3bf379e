"""Flag modules per model name (``tfbegan-train --model=NAME``).

Each module defines ``define_flags()`` and ``model_kwargs(FLAGS) -> dict``: the
constructor keyword arguments of its model beyond the backbone ones (image_size,
channels, filters, repeats, z_dim, h_dim, seed) that the train CLI fills in.
"""

VARIANTS = {
    "began": "tfbegan.cli.flags_began",
    "denoising_began": "tfbegan.cli.flags_denoising",
    "bigan": "tfbegan.cli.flags_bigan",
    "age": "tfbegan.cli.flags_age",
    "vae_began": "tfbegan.cli.flags_vae_began",
}
