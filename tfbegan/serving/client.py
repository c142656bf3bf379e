"""``tfbegan-client``: asks a TensorFlow Serving instance for images, writes a PNG grid.

REST (port 8501) and gRPC (port 8500) Predict requests against a tfbegan export
(the signatures of :mod:`tfbegan.serving.export`). It uses numpy, pillow and, for
gRPC, ``tensorflow-serving-api`` (which brings tensorflow and grpcio); nothing else of
tfbegan, so the module also runs as a plain script on a machine without tfbegan.

    tfbegan-client --protocol=rest --model=began --num=16 --seed=0 --out=grid.png
    tfbegan-client --protocol=grpc --port=8500 --model=began --signature=serving_default \
        --z_dim=64 --num=16 --out=grid.png
    tfbegan-client --print_config --model=began > models.config

``sample`` (default) sends ``{"num", "seed"}``; ``serving_default`` sends ``z`` drawn
here from U[-1, 1]^z_dim (``--prior=normal`` for N(0, I)) with numpy's generator.
``--num`` must be in [1, 1024] (checked before anything is allocated or sent).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
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
    url = rest_url(host, port, model, version)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            result = json.load(reply)
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")
        try:
            detail = json.loads(detail).get("error", detail)
        except ValueError:
            pass
        raise RuntimeError(f"REST {e.code} from {url}: {detail}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise RuntimeError(f"cannot reach TensorFlow Serving's REST API at {host}:{port} "
                           f"({reason}); is tensorflow_model_server running with "
                           f"--rest_api_port={port}?") from None
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
            raise RuntimeError(f"gRPC {e.code().name} from {host}:{port}: "
                               f"{e.details()}") from None
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


def serving_config(model, base_path=None):
    """The shipped ``models.config`` (TensorFlow Serving's ``--model_config_file``)
    for ``model`` at ``base_path`` (default ``/models/<model>``, the path inside the
    tensorflow/serving container of the serving guide)."""
    text = pathlib.Path(__file__).with_name("models.config").read_text()
    text = text.replace('name: "began"', f'name: "{model}"')
    return text.replace('base_path: "/models/began"',
                        f'base_path: "{base_path or "/models/" + model}"')


def _parser():
    parser = argparse.ArgumentParser(
        prog="tfbegan-client",
        description="Asks a TensorFlow Serving instance for images and writes a PNG grid.")
    add = parser.add_argument
    add("--protocol", choices=("rest", "grpc"), default="rest",
        help="REST (JSON over HTTP) or gRPC (PredictionService/Predict); default rest")
    add("--host", default="localhost", help="the server's host name; default localhost")
    add("--port", type=int, default=None, help="default: 8501 for REST, 8500 for gRPC")
    add("--model", default="began",
        help="model name, as in the server's models.config; default began")
    add("--version", type=int, default=None,
        help="model version (the export's integer folder); default: the newest loaded")
    add("--signature", default="sample", choices=("sample", "serving_default"),
        help="sample: the server draws z from num and seed; serving_default: z drawn "
             "here and sent (needs --z_dim); default sample")
    add("--num", type=int, default=16, help=f"images in the grid, 1..{MAX_NUM}; default 16")
    add("--seed", type=int, default=0, help="seed of z (same seed, same images); default 0")
    add("--z_dim", type=int, default=None,
        help="latent size of the export (its tfbegan.json); serving_default only")
    add("--prior", choices=("uniform", "normal"), default="uniform",
        help="prior of z for serving_default: U[-1, 1] (BEGAN) or N(0, I) (VAE+BEGAN, "
             "AGE); default uniform")
    add("--out", default="grid.png", help="output PNG path; default grid.png")
    add("--timeout", type=float, default=60.0, help="seconds per request; default 60")
    add("--print_config", action="store_true",
        help="print a models.config for --model (base_path /models/<model>) and exit")
    return parser


def main(argv=None):
    """Parses ``argv``, sends one request, writes the grid; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.print_config:
        print(serving_config(args.model), end="")
        return 0
    port = args.port or (8501 if args.protocol == "rest" else 8500)
    if not 1 <= args.num <= MAX_NUM:
        print(f"error: --num={args.num} must be in [1, {MAX_NUM}]", file=sys.stderr)
        return 1
    try:
        inputs = make_inputs(args.signature, args.num, args.seed, args.z_dim, args.prior)
        predict = rest_predict if args.protocol == "rest" else grpc_predict
        outputs = predict(args.host, port, args.model, args.signature, inputs,
                          args.version, timeout=args.timeout)
        save_png(args.out, grid(outputs["images"]))
    except Exception as e:  # one line for a command-line user
        print(f"error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
              file=sys.stderr)
        return 1
    print(args.out)
    return 0


def run():
    """Console-script entry point (``tfbegan-client``)."""
    sys.exit(main())


if __name__ == "__main__":
    run()
