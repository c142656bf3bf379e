"""Flag modules per model name (``tfbegan-train --model=NAME``).

Each module defines ``define_flags()``, ``model_kwargs(flags) -> dict`` (the
constructor keyword arguments of its model beyond the backbone ones: image_size,
channels, filters, repeats, z_dim, h_dim, seed, which the train CLI fills in) and
``DEFAULTS``: the family's paper values for core flags it does not own (see
``tfbegan.cli.defaults``).
"""

VARIANTS = {
    "began": "tfbegan.cli.flags_began",
    "denoising_began": "tfbegan.cli.flags_denoising",
    "bigan": "tfbegan.cli.flags_bigan",
    "age": "tfbegan.cli.flags_age",
    "vae_began": "tfbegan.cli.flags_vae_began",
}

#: The flag modules whose flags each model reads (a flag of any other module, given
#: explicitly, is an error rather than silently ignored).
FAMILIES = {
    "began": ("began",),
    "denoising_began": ("began", "denoising_began"),
    "bigan": ("bigan",),
    "age": ("age",),
    "vae_began": ("vae_began",),
}
