#!/usr/bin/env python
"""Asks a TensorFlow Serving instance for generated images and writes a PNG grid.

REST (port 8501) and gRPC (port 8500) Predict requests against a tfbegan export
(signatures of ``tfbegan/serving/export.py``). Needs numpy, pillow and, for gRPC,
``tensorflow-serving-api`` (which brings tensorflow and grpcio); not tfbegan.

    python export/client.py --protocol=rest --model=began --num=16 --seed=0 --out=grid.png
    python export/client.py --protocol=grpc --port=8500 --model=began --signature=serving_default \
        --z_dim=64 --num=16 --out=grid.png

``sample`` (default) sends ``{"num", "seed"}``; ``serving_default`` sends ``z`` drawn
here from U[-1, 1]^z_dim (``--prior=normal`` for N(0, I)) with numpy's generator.
``--num`` must be in [1, 1024] (checked before anything is allocated or sent).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import urllib.error
import urllib.request

import numpy as np

#: Largest --num: the default cap on one request's batch of a tfbegan export
#: (``max_batch``; an export made with a smaller --max_batch rejects more, with
#: INVALID_ARGUMENT). Checked before any latent is allocated here.
MAX_NUM = 1024
# Requests carry at most MAX_NUM images in 64 MiB replies.
MAX_MESSAGE_BYTES = 64 << 20


def rest_url(host, port, model, version=None):
    """``http://host:port/v1/models/<model>[/versions/<v>]:predict``."""
    path = f"/v1/models/{model}" + (f"/versions/{int(version)}" if version else "")
    return f"http://{host}:{port}{path}:predict"


def rest_body(signature, inputs):
    """A Predict request body in the columnar ("inputs") format, which takes the
    scalar ``num``/``seed`` inputs that the row ("instances") format cannot."""
    return {"signature_name": signature,
            "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}


def rest_predict(host, port, model, signature, inputs, version=None, timeout=60):
    """POSTs a Predict request; returns ``{output name: np.ndarray}``."""
    data = json.dumps(rest_body(signature, inputs)).encode()
    request = urllib.request.Request(rest_url(host, port, model, version), data=data,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            result = json.load(reply)
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        try:
            detail = json.loads(detail).get("error", detail)
        except ValueError:
            pass
        raise RuntimeError(f"REST {e.code}: {detail}") from None
    outputs = result["outputs"]
    if not isinstance(outputs, dict):  # a one-output signature answers bare values
        outputs = {"output": outputs}
    return {k: np.asarray(v) for k, v in outputs.items()}


def grpc_predict(host, port, model, signature, inputs, version=None, timeout=60):
    """The same request over gRPC (``PredictionService/Predict``)."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    with grpc.insecure_channel(f"{host}:{port}", options=options) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            reply = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as e:
            raise RuntimeError(f"gRPC {e.code().name}: {e.details()}") from None
    return {k: tf.make_ndarray(v) for k, v in reply.outputs.items()}


def make_inputs(signature, num, seed, z_dim=None, prior="uniform"):
    """Inputs of ``sample`` (num int32, seed int64) or ``serving_default`` (z)."""
    if signature == "sample":
        return {"num": np.int32(num), "seed": np.int64(seed)}
    if signature == "serving_default":
        if not z_dim:
            raise ValueError("--z_dim is required for serving_default.")
        rng = np.random.default_rng(seed)
        z = (rng.uniform(-1.0, 1.0, (num, z_dim)) if prior == "uniform"
             else rng.standard_normal((num, z_dim)))
        return {"z": z.astype(np.float32)}
    raise ValueError(f"signature={signature!r}: use sample or serving_default.")


def grid(images, pad=2):
    """uint8 ``[N, H, W, C]`` -> one near-square uint8 tile image (white padding)."""
    images = np.asarray(images, dtype=np.uint8)
    n, h, w, c = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, cols)
        out[pad + r * (h + pad):pad + r * (h + pad) + h,
            pad + col * (w + pad):pad + col * (w + pad) + w] = image
    return out


def save_png(path, image):
    from PIL import Image

    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=None,
                        help="default: 8501 for REST, 8500 for gRPC")
    parser.add_argument("--model", default="began", help="model name in models.config")
    parser.add_argument("--version", type=int, default=None, help="default: latest")
    parser.add_argument("--signature", default="sample",
                        choices=("sample", "serving_default"))
    parser.add_argument("--num", type=int, default=16, help=f"1..{MAX_NUM}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--z_dim", type=int, default=None)
    parser.add_argument("--prior", choices=("uniform", "normal"), default="uniform")
    parser.add_argument("--out", default="grid.png")
    args = parser.parse_args(argv)
    port = args.port or (8501 if args.protocol == "rest" else 8500)
    if not 1 <= args.num <= MAX_NUM:
        print(f"error: --num={args.num} must be in [1, {MAX_NUM}]", file=sys.stderr)
        return 1
    try:
        inputs = make_inputs(args.signature, args.num, args.seed, args.z_dim, args.prior)
        predict = rest_predict if args.protocol == "rest" else grpc_predict
        outputs = predict(args.host, port, args.model, args.signature, inputs,
                          args.version)
        save_png(args.out, grid(outputs["images"]))
    except Exception as e:  # one line for a command-line user
        print(f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
              file=sys.stderr)
        return 1
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
