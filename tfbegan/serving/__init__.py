"""Serving: trained generators as SavedModels, and what uses them.

``export`` writes a generator to ``<base>/<version>/`` with the signatures TensorFlow
Serving loads as is (``signatures`` makes them and their in-graph input checks,
``limits`` holds their batch cap without TensorFlow); ``loading`` calls any generator
(a Keras model, a tfbegan model, a checkpoint or an export) the same way; ``latent``
inverts images to z and interpolates (Berthelot et al. 2017, sec. 4.3); ``attributes``
does latent attribute arithmetic (Khan et al. 2018, sec. 5.5). May import ``checks``,
``fileio``, ``imaging``, ``models``, ``data`` and ``training.checkpoints``; never
``cli``.
"""
