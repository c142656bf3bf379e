"""Data: training images as ``tf.data`` pipelines of [-1, 1] floats.

``config`` (``DataConfig`` and the dataset spec grammar), ``pipeline`` (the dataset a
run trains on), ``mnist5k`` (the embedded offline digits), ``tfds_source`` (TensorFlow
Datasets) and ``folders`` (image folders). May import ``checks`` and ``imaging`` only.
"""
