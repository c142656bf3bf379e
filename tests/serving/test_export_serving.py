"""The serving side: docs/serving.md's quick-start commands (tfbegan-export,
tfbegan-sample, curl, the client) run as written, the CLIs' one-line errors,
models.config, and the client (tfbegan/serving/client.py) against in-process
stand-ins for TensorFlow Serving's REST and gRPC front ends."""

import concurrent.futures
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import urllib.request

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfbegan import imaging
from tfbegan.models import BEGAN
from tfbegan.serving import export as export_lib
from tfbegan.training import checkpoints

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE, Z_DIM = 8, 6


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def _readme_commands():
    """Command lines of docs/serving.md's section "Quick start"."""
    with open(os.path.join(ROOT, "docs", "serving.md")) as f:
        text = f.read()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        commands += [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    return commands


def _start(cmd, cwd):
    return subprocess.Popen(cmd, cwd=cwd, env=_env(), shell=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _png(path):
    return np.asarray(Image.open(path))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A training run directory as tfbegan-train leaves it (a checkpoint at step 5),
    exported with the README's tfbegan-export command, run verbatim in its parent."""
    cwd = tmp_path_factory.mktemp("serving")
    model = BEGAN(image_size=SIZE, channels=1, filters=4, z_dim=Z_DIM,
                          h_dim=Z_DIM, seed=1)
    model.compile(**model.make_optimizers())
    checkpoints.save_checkpoint(model, str(cwd / "tfbegan_run"), 5)
    export_cmd = [c for c in _readme_commands() if c.startswith("tfbegan-export ")]
    assert export_cmd == ["tfbegan-export --workdir=tfbegan_run --export_base=export/began"]
    code, out, err = _finish(_start(export_cmd[0], cwd))
    assert code == 0, err[-3000:]
    assert out.strip().splitlines()[-1] == os.path.join("export", "began", "1")
    return cwd, model


def test_readme_sample_commands_draw_the_exported_images(run_dir):
    cwd, model = run_dir
    path = cwd / "export" / "began" / "1"
    assert export_lib.read_metadata(str(path))["step"] == 5
    cmds = [c for c in _readme_commands() if c.startswith("tfbegan-sample ")]
    assert len(cmds) == 2 and "--interpolate" in cmds[1]
    # Different output names so both can run at once.
    procs = [_start(cmds[0], cwd), _start(cmds[1], cwd)]
    results = [_finish(p) for p in procs]
    for code, _, err in results:
        assert code == 0, err[-3000:]

    loaded = tf.saved_model.load(str(path))
    sample = loaded.signatures["sample"](num=tf.constant(64), seed=tf.constant(0, tf.int64))
    np.testing.assert_allclose(sample["images_float"].numpy(),
                               np.clip(model.generate(64, seed=0).numpy(), -1, 1), atol=1e-5)
    grid = _png(cwd / "grid.png")
    np.testing.assert_array_equal(grid, imaging.make_grid(sample["images"].numpy())[..., 0])

    strip = _png(cwd / "strip.png")
    z = model.sample_z(2, seed=0)
    line = loaded.signatures["interpolate"](z_start=z[0], z_end=z[1], steps=tf.constant(8))
    np.testing.assert_array_equal(strip,
                                  imaging.make_grid(line["images"].numpy(), rows=1)[..., 0])
    assert strip.shape == (SIZE + 4, 8 * (SIZE + 2) + 2)
    # The strip's ends are the first two images that `sample` draws with that seed.
    np.testing.assert_array_equal(line["images"].numpy()[[0, -1]],
                                  sample["images"].numpy()[:2])


def test_cli_errors_are_one_line(run_dir, tmp_path):
    cwd, _ = run_dir
    (tmp_path / "empty_run").mkdir()
    # Unwritable export bases and existing versions: test_export.py (library level).
    cases = {
        "no_checkpoint": (f"tfbegan-export --workdir={tmp_path / 'empty_run'} "
                          f"--export_base={tmp_path / 'out'}", "no checkpoint in"),
        "bad_num": (f"tfbegan-sample --export_dir={cwd / 'export' / 'began'} --num=0",
                    "--num=0 must be in [1, 1024]"),
        # Before: a traceback ("Unable to allocate 194. TiB").
        "bad_scale": (f"tfbegan-sample --export_dir={cwd / 'export' / 'began'} "
                      f"--upscale=100000 --out={tmp_path / 'big.png'}",
                      "--upscale=100000 must be an integer in [1, 32]"),
        "both_names": (f"tfbegan-sample --export_dir={cwd / 'export' / 'began'} "
                       f"--interpolate --steps=4 --strip_length=4",
                       "--steps is the old name of --strip_length; pass only "
                       "--strip_length."),
        # Before: the missing directories were created silently.
        "out_in_missing_dir": (f"tfbegan-sample --export_dir={cwd / 'export' / 'began'} "
                               f"--out={tmp_path / 'nope' / 'deeper' / 'g.png'}",
                               f"the directory {tmp_path / 'nope' / 'deeper'} does not "
                               f"exist"),
        "out_is_a_dir": (f"tfbegan-sample --export_dir={cwd / 'export' / 'began'} "
                         f"--out={tmp_path}", "is a directory; give a file name"),
        "bad_max_batch": (f"tfbegan-export --workdir={cwd / 'tfbegan_run'} "
                          f"--export_base={tmp_path / 'out'} --max_batch=65537",
                          "--max_batch=65537 must be an integer in [1, 65536]"),
        "zero_max_batch": (f"tfbegan-export --workdir={cwd / 'tfbegan_run'} "
                           f"--export_base={tmp_path / 'out'} --max_batch=0",
                           "--max_batch=0 must be an integer in [1, 65536]"),
    }
    # Damaged copies of the export (random bytes: test_cli_evaluate.py). Before:
    # tracebacks (IndexError: Read less bytes than requested; an Assert on z_start's
    # shape) and "Expecting property name ...: line 2 column 1", naming no file.
    good = cwd / "export" / "began" / "1"
    for name, (damage, message) in {
            "truncated": (lambda d: os.truncate(_variables(d), _variables(d).stat().st_size
                                                // 2), "does not load (IndexError"),
            "wrong_z_dim": (lambda d: _meta(d).write_text(json.dumps(
                {**json.loads(_meta(d).read_text()), "z_dim": 99})),
                            f"says z_dim=99, but its signatures take z of size {Z_DIM}"),
            "invalid_json": (lambda d: _edit_meta(d, "{", "{\n'"),
                             "tfbegan.json is not valid JSON (line 2")}.items():
        copy = tmp_path / name
        shutil.copytree(good, copy)
        damage(copy)
        cases[name] = (f"tfbegan-sample --export_dir={copy} --interpolate "
                       f"--out={tmp_path / 'big.png'}", message.replace(
                           "tfbegan.json is", f"tfbegan.json {_meta(copy)} is"))
    procs = {k: _start(cmd, tmp_path) for k, (cmd, _) in cases.items()}
    for name, proc in procs.items():
        code, out, err = _finish(proc)
        ours = [line for line in err.splitlines() if line.startswith("error: ")]
        assert code == 1, (name, err[-2000:])
        assert len(ours) == 1 and cases[name][1] in ours[0], (name, err[-2000:])
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # validated before any work
    assert not (tmp_path / "big.png").exists()
    assert not (tmp_path / "nope").exists()
    assert sorted(os.listdir(cwd / "export" / "began")) == ["1"]


def _variables(export_dir):
    return export_dir / "variables" / "variables.data-00000-of-00001"


def _meta(export_dir):
    return export_dir / "assets.extra" / "tfbegan.json"


def _edit_meta(export_dir, old, new):
    _meta(export_dir).write_text(_meta(export_dir).read_text().replace(old, new, 1))


def test_export_max_batch_flag_caps_every_signature(run_dir, tmp_path):
    """``tfbegan-export --max_batch=3``: recorded in tfbegan.json, checked by the
    graph, and ``tfbegan-sample`` checks ``--num`` against the export's cap."""
    cwd, model = run_dir
    code, out, err = _finish(_start(f"tfbegan-export --workdir={cwd / 'tfbegan_run'} "
                                    f"--export_base={tmp_path / 'capped'} --max_batch=3",
                                    tmp_path))
    assert code == 0, err[-3000:]
    path = out.strip().splitlines()[-1]
    meta = export_lib.read_metadata(path)
    assert (meta["max_batch"], meta["max_num"], meta["max_steps"], meta["step"]) == (3, 3, 3, 5)
    sigs = tf.saved_model.load(path).signatures
    assert sigs["serving_default"](z=model.sample_z(3, seed=0))["images"].shape == (3, 8, 8, 1)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"z batch must be at most 3 \(max_batch\), got 4"):
        sigs["serving_default"](z=model.sample_z(4, seed=0))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"num must be in \[1, 3\] \(max_batch\), got 4"):
        sigs["sample"](num=tf.constant(4), seed=tf.constant(0, tf.int64))
    code, _, err = _finish(_start(f"tfbegan-sample --export_dir={path} --num=4 "
                                  f"--out={tmp_path / 'grid.png'}", tmp_path))
    ours = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 1 and ours == ["error: --num=4 must be in [1, 3] (the export's "
                                  "max_batch)."], err[-2000:]
    assert not (tmp_path / "grid.png").exists()


def test_client_help_explains_every_option(capsys):
    client = _client()
    with pytest.raises(SystemExit) as exit_:
        client.main(["--help"])
    assert exit_.value.code == 0
    actions = [a for a in client._parser()._actions if a.dest != "help"]
    assert len(actions) == 13 and all(a.help for a in actions)
    assert "--print_config" in capsys.readouterr().out


def test_client_names_the_server_it_cannot_reach(capsys):
    # Port 1 on localhost: nothing listens there, so the connection is refused at once.
    assert _client().main(["--port=1", "--timeout=5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: RuntimeError: cannot reach TensorFlow Serving's REST "
                          "API at localhost:1 (") and err.count("\n") == 1


def test_client_checks_num_before_allocating(monkeypatch, capsys):
    # Before: --num=100000000 tried to allocate 23.8 GiB of latents here.
    client = _client()
    monkeypatch.setattr(client, "make_inputs", lambda *a, **k: pytest.fail("allocated"))
    for num in (100000000, 0, 1025):
        assert client.main([f"--num={num}", "--signature=serving_default",
                            "--z_dim=6"]) == 1
        assert capsys.readouterr().err == f"error: --num={num} must be in [1, 1024]\n"


@pytest.mark.parametrize("argv, name, base", [
    (["--print_config"], "began", "/models/began"),
    (["--print_config", "--model=digits"], "digits", "/models/digits"),
])
def test_models_config_parses(argv, name, base, capsys):
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    assert _client().main(argv) == 0
    config = text_format.Parse(capsys.readouterr().out,
                               model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (name, base, "tensorflow")
    assert model.model_version_policy.latest.num_versions == 1
    assert "tfbegan-client --print_config --model=began > export/models.config" in (
        _readme_commands())
    docker = [c for c in _readme_commands() if c.startswith("docker run")]
    assert docker and '-v "$PWD/export:/models"' in docker[0]
    assert "--model_config_file=/models/models.config" in docker[0]


# ----------------------------------------------------------------------------------
# Stand-ins for TensorFlow Serving's front ends, backed by the loaded SavedModel, so
# the client and the README's request bodies are checked against the signatures.

def _call(signatures, name, inputs):
    fn = signatures[name]
    specs = fn.structured_input_signature[1]
    if set(inputs) != set(specs):
        raise ValueError(f"inputs {sorted(inputs)} != signature inputs {sorted(specs)}")
    return {k: v.numpy() for k, v in fn(**{k: tf.constant(np.asarray(v), specs[k].dtype)
                                           for k, v in inputs.items()}).items()}


def _status_message(error):
    """The C++ status message, without the eager runtime's Python-side preamble."""
    lines = [line for line in str(getattr(error, "message", error)).splitlines()
             if line.strip() and not line.startswith(("Graph execution error",
                                                      "Detected at node", "<stack"))]
    return "\n".join(lines)


class _FakeRest(http.server.BaseHTTPRequestHandler):
    signatures = None
    name = "began"

    def _reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == f"/v1/models/{self.name}":
            self._reply(200, {"model_version_status": [{"version": "1",
                                                        "state": "AVAILABLE"}]})
        else:
            self._reply(404, {"error": f"no model at {self.path}"})

    def do_POST(self):
        if not re.fullmatch(rf"/v1/models/{self.name}(/versions/\d+)?:predict", self.path):
            return self._reply(404, {"error": f"no model at {self.path}"})
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            out = _call(self.signatures, body.get("signature_name", "serving_default"),
                        body["inputs"])
        except Exception as e:  # Serving answers 400 with {"error": <status message>}
            return self._reply(400, {"error": _status_message(e)})
        self._reply(200, {"outputs": {k: v.tolist() for k, v in out.items()}})

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def servers(run_dir):
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    cwd, _ = run_dir
    signatures = tf.saved_model.load(str(cwd / "export" / "began" / "1")).signatures
    handler = type("Handler", (_FakeRest,), {"signatures": signatures})
    rest = http.server.ThreadingHTTPServer(("localhost", 0), handler)
    threading.Thread(target=rest.serve_forever, daemon=True).start()

    class Predictor(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            if request.model_spec.name != "began":
                context.abort(grpc.StatusCode.NOT_FOUND, request.model_spec.name)
            name = request.model_spec.signature_name or "serving_default"
            specs = signatures[name].structured_input_signature[1]
            for key, proto in request.inputs.items():  # Serving checks dtypes
                if key not in specs or proto.dtype != specs[key].dtype.as_datatype_enum:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"bad input {key}")
            try:
                out = _call(signatures, name, {k: tf.make_ndarray(v)
                                               for k, v in request.inputs.items()})
            except Exception as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, _status_message(e))
            reply = predict_pb2.PredictResponse()
            reply.model_spec.CopyFrom(request.model_spec)
            for k, v in out.items():
                reply.outputs[k].CopyFrom(tf.make_tensor_proto(v))
            return reply

    grpc_server = grpc.server(concurrent.futures.ThreadPoolExecutor(2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Predictor(),
                                                                        grpc_server)
    grpc_port = grpc_server.add_insecure_port("localhost:0")
    grpc_server.start()
    yield signatures, rest.server_address[1], grpc_port
    rest.shutdown()
    grpc_server.stop(None)


def _client():
    from tfbegan.serving import client

    return client


def test_readme_requests_and_client(servers, tmp_path, monkeypatch, capsys):
    signatures, rest_port, grpc_port = servers
    client = _client()
    expected = _call(signatures, "sample", {"num": 16, "seed": 0})["images"]
    monkeypatch.chdir(tmp_path)
    commands = _readme_commands()

    curls = [shlex.split(c) for c in commands if c.startswith("curl ")]
    assert len(curls) == 2
    status = json.load(urllib.request.urlopen(
        curls[0][-1].replace("localhost:8501", f"localhost:{rest_port}")))
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    url = next(a for a in curls[1] if a.startswith("http://"))
    body = curls[1][curls[1].index("-d") + 1]
    request = urllib.request.Request(url.replace("localhost:8501", f"localhost:{rest_port}"),
                                     data=body.encode(), method="POST")
    reply = json.load(urllib.request.urlopen(request))
    np.testing.assert_array_equal(np.asarray(reply["outputs"]["images"], np.uint8),
                                  expected[:4])

    runs = [shlex.split(c)[1:] for c in commands if c.startswith("tfbegan-client --protocol")]
    assert len(runs) == 3
    for argv in runs:
        port = rest_port if "--protocol=rest" in argv else grpc_port
        if "--signature=serving_default" in argv:  # the README's z_dim is the default's
            argv = [a if not a.startswith("--z_dim") else f"--z_dim={Z_DIM}" for a in argv]
        os.remove("grid.png") if os.path.exists("grid.png") else None
        assert client.main(argv + [f"--port={port}"]) == 0, capsys.readouterr().err
        grid = _png("grid.png")
        if "--signature=serving_default" in argv:
            z = client.make_inputs("serving_default", 16, 0, Z_DIM)["z"]
            want = _call(signatures, "serving_default", {"z": z})["images"]
        else:
            want = expected
        np.testing.assert_array_equal(grid, imaging.make_grid(want)[..., 0])

    # Errors reach the user as one line.
    assert client.main(["--port", str(rest_port), "--signature=serving_default",
                        f"--z_dim={Z_DIM - 1}"]) == 1
    assert (f"z must have shape [batch, {Z_DIM}], got [16,{Z_DIM - 1}]"
            in capsys.readouterr().err)
    assert client.main(["--protocol=grpc", "--port", str(grpc_port), "--model=nope"]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


@pytest.mark.large
def test_trained_run_exports_reloads_and_samples(tmp_path):
    """The issue's "done when": a tfbegan-train run exports, reloads without tfbegan
    (the SavedModel needs only TensorFlow) and tfbegan-sample draws a grid from it."""
    train = ("tfbegan-train --workdir=tfbegan_run --export_base= --image_size=8 "
             "--filters=4 --z_dim=6 --h_dim=6 --batch_size=4 --steps=3 --log_every=1")
    code, _, err = _finish(_start(train, tmp_path), timeout=600)
    assert code == 0, err[-3000:]
    for cmd in [c for c in _readme_commands()
                if c.startswith(("tfbegan-export ", "tfbegan-sample "))]:
        code, _, err = _finish(_start(cmd, tmp_path))
        assert code == 0, (cmd, err[-3000:])
    path = tmp_path / "export" / "began" / "1"
    assert export_lib.read_metadata(str(path))["step"] == 3
    check = ("import sys, tensorflow as tf; s = tf.saved_model.load(sys.argv[1]).signatures;"
             " out = s['sample'](num=tf.constant(4), seed=tf.constant(0, tf.int64));"
             " assert out['images'].shape == (4, 8, 8, 1);"
             " assert not any(m.startswith('tfbegan') for m in sys.modules)")
    code, _, err = _finish(_start(f'{sys.executable} -c "{check}" {path}', tmp_path))
    assert code == 0, err[-3000:]
    assert _png(tmp_path / "grid.png").shape == (8 * 10 + 2, 8 * 10 + 2)
