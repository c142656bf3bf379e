"""Evaluation: how good the samples are, as numbers.

``metrics`` (FID, KID, Inception Score, MS-SSIM on features or images), ``features``
(the feature networks those need: a digit classifier, InceptionV3 when its weights are
on disk), ``sample_quality`` (one evaluation of a generator), ``iqa`` (the image-quality
statistics of Vertolli & Davies 2017) and ``reconstruction`` (x -> e(x) -> g(e(x))
grids of Ulyanov et al. 2018). May import ``checks``, ``imaging``, ``data``, ``losses``
and ``serving.loading``; never ``callbacks`` or ``training``.
"""
