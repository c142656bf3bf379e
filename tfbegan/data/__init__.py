"""Data: training images as ``tf.data`` pipelines of [-1, 1] floats.

``config`` (``DataConfig`` and the dataset spec grammar), ``pipeline`` (the dataset a
run trains on), ``mnist5k`` (the embedded offline digits), ``tfds_source`` (TensorFlow
Datasets), ``folders`` (image folders), ``decode`` (image files to pixels: transparency,
16-bit, channels) and ``survey`` (a folder's channels and size when not given). May
import ``checks`` and ``imaging`` only.
"""
