"""Networks: builders of the encoders, decoders and generators (functional Keras models).

``began`` builds Berthelot et al. 2017's auto-encoder discriminator and generator (sec.
3.5) with Li et al. 2018's options, and the smaller DCGAN-style pair; ``encoders``
builds the DCGAN-style networks of BiGAN and AGE. Builders take a ``ModelConfig``-like
object; this package imports nothing from ``models`` (only for type hints), so models
can import it freely.
"""
