"""Losses: pure functions of tensors, each tested against hand-computed values.

``distances`` (the auto-encoder loss L(v) and the image-quality distances of Vertolli &
Davies 2017), ``equilibrium`` (k_t controllers and convergence measures of Berthelot et
al. 2017 and Khan et al. 2018), ``terms`` (denoising, historical averaging, pull-away,
KL and other terms) and ``age`` (the latent terms of Ulyanov et al. 2018). May import
``checks`` and ``imaging`` only; no Keras models, no variables.
"""
