"""How many tfbegan functions one training step of the no-flag model reaches.

Runs ``train_step`` of the no-flag run's model (denoising BEGAN on the DCGAN-style
pair, tfbegan-train's quickstart settings, float32) once eagerly (autograph would run
converted copies of the functions), with a Python profiler hook that records every
tfbegan function entered, and prints one JSON line: the count of distinct functions
and of the files they live in.

    python benchmarks/step_call_graph.py
"""

import json
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

import tfbegan

try:  # the layout of this package
    from tfbegan.models import DenoisingBEGAN
except ImportError:  # earlier layouts exported the models from the package
    DenoisingBEGAN = tfbegan.DenoisingBEGAN

ROOT = str(pathlib.Path(tfbegan.__file__).resolve().parent)


def main():
    model = DenoisingBEGAN(image_size=32, channels=1, architecture="dcgan", filters=32,
                           z_dim=32, h_dim=32, gamma=0.85, lambda_k=0.05, eta=2,
                           lambda_noise=4.0, batch_norm=False, skip_connections=True)
    model.compile(**model.make_optimizers(1e-3, 0.5, 0.2))
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1)), tf.float32)
    seen = set()

    def hook(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(ROOT):
            code = frame.f_code
            seen.add((os.path.relpath(code.co_filename, ROOT), code.co_name))

    sys.setprofile(hook)
    try:
        model.train_step(x)
    finally:
        sys.setprofile(None)
    functions = sorted(f"{path}:{name}" for path, name in seen)
    print(json.dumps({"benchmark": "step_call_graph", "functions": len(functions),
                      "files": len({f.split(':')[0] for f in functions}),
                      "names": functions}))


if __name__ == "__main__":
    main()
