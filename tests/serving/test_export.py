"""tfbegan.serving.export: signatures, a fresh process without tfbegan, the TF1 session loader
(Serving's path), core ops only, warm-up records, bad inputs, atomic versions."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import small_fs
import tensorflow as tf

import tfbegan
from tfbegan import fileio, imaging
from tfbegan.models import BEGAN
from tfbegan.serving import export as export_lib
from tfbegan.serving import limits

Z_DIM = 6
SIZE = 8


class EncoderBEGAN(BEGAN):
    """A BEGAN whose discriminator encoder doubles as z = E(x) (h_dim == z_dim), to
    exercise the ``encode`` signature without depending on another model family."""

    has_encoder = True

    def encode(self, images):
        return self.discriminator.get_layer("encoder")(images, training=False)


def _tiny(cls=BEGAN, **kwargs):
    return cls(image_size=SIZE, channels=1, filters=4, z_dim=Z_DIM, h_dim=Z_DIM,
               seed=3, **kwargs)


def _count(variables):
    return int(sum(np.prod(v.shape) for v in variables))


def _saved_scalars(export_dir):
    """Number of scalars stored in the export's variables checkpoint."""
    entries = tf.train.list_variables(os.path.join(export_dir, "variables", "variables"))
    return int(sum(np.prod(shape) for name, shape in entries
                   if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny encoder BEGAN, its export (version 1) and the loaded SavedModel."""
    model = _tiny(EncoderBEGAN)
    base = str(tmp_path_factory.mktemp("export") / "began")
    path = export_lib.export_generator(model, base, step=123, extra_config={"note": "t"})
    return model, base, path, tf.saved_model.load(path)


def test_layout_metadata_and_versions(exported):
    model, base, path, _ = exported
    assert path == os.path.join(base, "1")
    # Only the version directory: the temporary directory was renamed, not copied.
    assert sorted(os.listdir(base)) == ["1"]
    assert {"saved_model.pb", "variables", "assets.extra"} <= set(os.listdir(path))
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700
    meta = export_lib.read_metadata(path)
    assert meta["model_type"] == "EncoderBEGAN"
    assert (meta["image_size"], meta["channels"], meta["z_dim"]) == (SIZE, 1, Z_DIM)
    assert meta["prior"] == "uniform" and meta["step"] == 123 and meta["version"] == 1
    assert meta["tfbegan_version"] == tfbegan.__version__ and meta["note"] == "t"
    assert meta["signatures"] == ["serving_default", "sample", "interpolate", "encode"]
    assert meta["model_config"]["filters"] == 4
    # The generator and the encoder the endpoints use, nothing of the wrapper (k,
    # the discriminator's decoder, optimizers).
    encoder = model.discriminator.get_layer("encoder")
    assert _saved_scalars(path) == _count(model.generator.weights) + _count(encoder.weights)

    plain = _tiny()
    second = export_lib.export_generator(plain, base)
    assert second == os.path.join(base, "2")
    assert export_lib.read_metadata(second)["step"] is None
    assert "encode" not in tf.saved_model.load(second).signatures
    assert _saved_scalars(second) == _count(plain.generator.weights)
    assert export_lib.export_generator(plain, base, version=7).endswith(os.sep + "7")
    assert export_lib.next_version(base) == 8
    with pytest.raises(ValueError, match="already exists"):
        export_lib.export_generator(plain, base, version=2)
    with pytest.raises(ValueError, match="version=0 must be a positive integer"):
        export_lib.export_generator(plain, base, version=0)
    assert sorted(os.listdir(base)) == ["1", "2", "7"]


def test_signatures_match_generator_in_process(exported):
    model, _, _, loaded = exported
    sigs = loaded.signatures
    z = model.sample_z(4, seed=11)
    out = sigs["serving_default"](z=z)
    raw = model.generator(z, training=False).numpy()
    np.testing.assert_allclose(out["images_float"].numpy(), np.clip(raw, -1, 1), atol=1e-5)
    assert out["images"].dtype == tf.uint8
    assert np.abs(out["images"].numpy().astype(int) - imaging.to_uint8(raw)).max() <= 1

    s = sigs["sample"](num=tf.constant(5), seed=tf.constant(9, tf.int64))
    np.testing.assert_allclose(s["images_float"].numpy(),
                               np.clip(model.generate(5, seed=9).numpy(), -1, 1), atol=1e-5)
    again = sigs["sample"](num=tf.constant(5), seed=tf.constant(9, tf.int64))
    np.testing.assert_array_equal(s["images"].numpy(), again["images"].numpy())
    other = sigs["sample"](num=tf.constant(5), seed=tf.constant(10, tf.int64))
    assert np.abs(other["images_float"].numpy() - s["images_float"].numpy()).max() > 1e-3

    z0, z1 = z[0], z[1]
    path = sigs["interpolate"](z_start=z0, z_end=z1, steps=tf.constant(5))
    t = np.linspace(0, 1, 5, dtype=np.float32)[:, None]
    line = (1 - t) * z0.numpy() + t * z1.numpy()
    expected = np.clip(model.generator(line, training=False).numpy(), -1, 1)
    np.testing.assert_allclose(path["images_float"].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(path["images_float"].numpy()[[0, -1]],
                               out["images_float"].numpy()[:2], atol=1e-5)

    x = out["images_float"].numpy()
    np.testing.assert_allclose(sigs["encode"](images=x)["z"].numpy(),
                               model.encode(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("name, kwargs, message", [
    ("serving_default", {"z": np.zeros([2, Z_DIM + 1], np.float32)},
     r"z must have shape \[batch, 6\], got \[2,7\]"),
    ("serving_default", {"z": np.zeros([Z_DIM], np.float32)},
     r"z must have shape \[batch, 6\], got \[6\]"),
    ("sample", {"num": 0, "seed": 0}, r"num must be in \[1, 1024\]"),
    ("sample", {"num": limits.DEFAULT_MAX_BATCH + 1, "seed": 0}, r"num must be in \[1, 1024\]"),
    ("interpolate", {"z_start": np.zeros(Z_DIM, np.float32),
                     "z_end": np.ones(Z_DIM, np.float32), "steps": 1},
     r"steps must be in \[2, 1024\]"),
    # Before: NaN / Inf latents came back as all-black uint8 images.
    ("serving_default", {"z": np.full([2, Z_DIM], np.nan, np.float32)},
     r"z must be finite \(no NaN or Inf\)"),
    ("serving_default", {"z": np.full([1, Z_DIM], -np.inf, np.float32)},
     r"z must be finite"),
    ("interpolate", {"z_start": np.full(Z_DIM, np.inf, np.float32),
                     "z_end": np.ones(Z_DIM, np.float32), "steps": 3},
     r"z_start must be finite"),
    ("interpolate", {"z_start": np.zeros(Z_DIM, np.float32),
                     "z_end": np.array([np.nan] + [0] * (Z_DIM - 1), np.float32),
                     "steps": 3}, r"z_end must be finite"),
    ("encode", {"images": np.full([1, SIZE, SIZE, 1], np.nan, np.float32)},
     r"images must be finite"),
])
def test_bad_inputs_raise_invalid_argument(exported, name, kwargs, message):
    fn = exported[3].signatures[name]
    specs = fn.structured_input_signature[1]
    args = {k: tf.constant(v, specs[k].dtype) for k, v in kwargs.items()}
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        fn(**args)


def test_warmup_file_parses_and_replays(exported):
    from tensorflow_serving.apis import prediction_log_pb2

    _, base, path, loaded = exported
    records = list(tf.data.TFRecordDataset(
        os.path.join(path, "assets.extra", export_lib.WARMUP_FILE)).as_numpy_iterator())
    assert len(records) == 1
    log = prediction_log_pb2.PredictionLog.FromString(records[0])
    request = log.predict_log.request
    assert request.model_spec.signature_name == "serving_default"
    assert request.model_spec.name == os.path.basename(base)
    assert list(request.inputs) == ["z"]
    z = tf.make_ndarray(request.inputs["z"])
    assert z.dtype == np.float32 and z.shape == (export_lib.WARMUP_BATCH, Z_DIM)
    assert np.all(np.abs(z) <= 1) and np.abs(z).max() > 0
    out = loaded.signatures["serving_default"](z=tf.constant(z))
    assert out["images"].shape == (export_lib.WARMUP_BATCH, SIZE, SIZE, 1)


def test_batch_norm_generator_exports_inference_mode(tmp_path):
    model = _tiny(batch_norm=True)
    bns = [layer for layer in model.generator.layers
           if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns
    rng = np.random.default_rng(0)
    for bn in bns:  # moving statistics far from a batch's own
        bn.moving_mean.assign(rng.normal(0, 2, bn.moving_mean.shape).astype(np.float32))
        bn.moving_variance.assign(rng.uniform(2, 5, bn.moving_variance.shape)
                                  .astype(np.float32))
    loaded = tf.saved_model.load(export_lib.export_generator(model, str(tmp_path)))
    z = model.sample_z(4, seed=1)
    got = loaded.signatures["serving_default"](z=z)["images_float"].numpy()
    inference = np.clip(model.generator(z, training=False).numpy(), -1, 1)
    training = np.clip(model.generator(z, training=True).numpy(), -1, 1)
    np.testing.assert_allclose(got, inference, atol=1e-5)
    assert np.abs(got - training).max() > 1e-2


def test_interrupted_export_leaves_no_version(tmp_path, monkeypatch):
    model = _tiny()
    base = str(tmp_path / "m")
    export_lib.export_generator(model, base)

    def no_rename(src, dst):
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(export_lib.os, "rename", no_rename)
    with pytest.raises(OSError, match="simulated crash"):
        export_lib.export_generator(model, base)
    monkeypatch.undo()
    assert os.listdir(base) == ["1"]

    # Interrupted half-way through writing (after the SavedModel, before assets).
    written = []
    archive_class = type(export_lib.build_archive(model))
    original = archive_class.write_out

    def write_then_stop(self, filepath, *args, **kwargs):
        original(self, filepath, *args, **kwargs)
        written.append(os.listdir(filepath))
        raise KeyboardInterrupt

    monkeypatch.setattr(archive_class, "write_out", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        export_lib.export_generator(model, base)
    assert "saved_model.pb" in written[0]
    assert os.listdir(base) == ["1"]
    assert export_lib.existing_versions(base) == [1]


def test_unwritable_export_base(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="not a writable directory"):
        export_lib.export_generator(_tiny(), str(blocker / "began"))


def test_check_export_base_creates_nothing_and_names_the_reason(tmp_path, monkeypatch):
    # Before: it created the directory tree, so a typo'd path appeared on disk
    # when checked before training.
    missing = tmp_path / "new" / "began"
    assert export_lib.check_export_base(str(missing)) == str(missing)
    assert not (tmp_path / "new").exists()
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for path, reason in [(blocker, "(it is a file)"),
                         (blocker / "began", f"({str(blocker)!r} is a file)")]:
        with pytest.raises(ValueError) as info:
            export_lib.check_export_base(str(path))
        assert str(info.value) == (f"export_base={str(path)!r} is not a writable "
                                   f"directory {reason}; pass another --export_base.")
    # A read-only directory (root ignores permission bits: patch what os.access says).
    real_access = os.access
    monkeypatch.setattr(export_lib.os, "access", lambda p, mode: False
                        if os.path.abspath(p) == str(tmp_path) else real_access(p, mode))
    with pytest.raises(ValueError, match=f"no permission to write in {str(tmp_path)!r}"):
        export_lib.check_export_base(str(tmp_path / "began"))


def test_check_export_base_immutable_directory(tmp_path):
    target = tmp_path / "frozen"
    target.mkdir()
    try:
        subprocess.run(["chattr", "+i", str(target)], check=True, capture_output=True,
                       timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("chattr +i is not available here (needs root on ext4/xfs/tmpfs)")
    try:
        with pytest.raises(ValueError, match="no permission to write in"):
            export_lib.check_export_base(str(target / "began"))
    finally:
        subprocess.run(["chattr", "-i", str(target)], check=False, timeout=30)


def test_disk_full_export_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    # Before: a ResourceExhaustedError traceback from deep inside TensorFlow.
    model = _tiny()
    base = str(tmp_path / "began")
    export_lib.export_generator(model, base)
    archive_class = type(export_lib.build_archive(model))
    original = archive_class.write_out

    def write_then_fill(self, filepath, *args, **kwargs):
        original(self, filepath, *args, **kwargs)
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{filepath}/variables/variables.data-00000-of-00001; "
                        f"No space left on device")

    monkeypatch.setattr(archive_class, "write_out", write_then_fill)
    with pytest.raises(fileio.DiskFullError) as info:
        export_lib.export_generator(model, base)
    message = str(info.value)
    size = fileio.tree_bytes(os.path.join(base, "1"))
    assert message.startswith(f"no space left on device writing "
                              f"{os.path.join(base, '2')}: needs about "
                              f"{size / 1024:.1f} KiB")
    assert "\n" not in message
    assert os.listdir(base) == ["1"]  # no partial version, no hidden temporary


def test_disk_full_export_on_a_real_small_file_system(tmp_path):
    with small_fs.small_tmpfs(tmp_path / "tmpfs", "40k") as mount:
        with pytest.raises(fileio.DiskFullError, match=r"began/1: needs about"):
            export_lib.export_generator(_tiny(), str(mount / "began"))
        assert os.listdir(mount / "began") == []


# Runs in a fresh interpreter that never imports tfbegan: what a Serving host sees.
_FRESH = textwrap.dedent(r"""
    import json, sys
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.framework import op_def_registry

    export_dir, inputs_path, out_path = sys.argv[1:4]
    inp = np.load(inputs_path)
    sigs = tf.saved_model.load(export_dir).signatures
    out, meta = {}, {"signatures": sorted(sigs)}
    r = sigs["serving_default"](z=tf.constant(inp["z"]))
    out["default_images"], out["default_float"] = r["images"].numpy(), r["images_float"].numpy()
    r = sigs["sample"](num=tf.constant(5, tf.int32), seed=tf.constant(9, tf.int64))
    out["sample_images"], out["sample_float"] = r["images"].numpy(), r["images_float"].numpy()
    r = sigs["interpolate"](z_start=tf.constant(inp["z"][0]), z_end=tf.constant(inp["z"][1]),
                            steps=tf.constant(4, tf.int32))
    out["interp_float"] = r["images_float"].numpy()
    out["encode_z"] = sigs["encode"](images=tf.constant(inp["x"]))["z"].numpy()

    def rejection(call):
        try:
            call()
        except tf.errors.InvalidArgumentError as e:
            # Eager calls put "Graph execution error:" first; keep the op's line.
            lines = [ln.strip() for ln in str(e).splitlines() if "finite" in ln]
            return "InvalidArgument: " + (lines[0] if lines else str(e))
        return "accepted"

    nan_z = np.full_like(inp["z"], np.nan)
    meta["nan_z"] = rejection(lambda: sigs["serving_default"](z=tf.constant(nan_z)))

    # TF Serving's C++ loader: a TF1 session on the "serve" MetaGraph.
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        mg = tf.compat.v1.saved_model.loader.load(sess, ["serve"], export_dir)
        sig = mg.signature_def["serving_default"]
        fetch = {k: v.name for k, v in sig.outputs.items()}
        res = sess.run(fetch, {sig.inputs["z"].name: inp["z"]})
        out["session_images"], out["session_float"] = res["images"], res["images_float"]
        sig = mg.signature_def["sample"]
        res = sess.run({k: v.name for k, v in sig.outputs.items()},
                       {sig.inputs["num"].name: 5, sig.inputs["seed"].name: 9})
        out["session_sample"] = res["images"]
        try:
            sess.run(fetch, {mg.signature_def["serving_default"].inputs["z"].name:
                             inp["z"][:, :-1]})
            meta["wrong_width"] = "accepted"
        except Exception as e:
            meta["wrong_width"] = str(e).splitlines()[0]
        meta["session_nan_z"] = rejection(lambda: sess.run(
            fetch, {mg.signature_def["serving_default"].inputs["z"].name: nan_z}))
        sig = mg.signature_def["interpolate"]
        meta["session_inf_z_end"] = rejection(lambda: sess.run(
            {k: v.name for k, v in sig.outputs.items()},
            {sig.inputs["z_start"].name: inp["z"][0],
             sig.inputs["z_end"].name: np.full_like(inp["z"][1], np.inf),
             sig.inputs["steps"].name: 3}))
        graph_def = mg.graph_def
    ops = {n.op for n in graph_def.node}
    ops |= {n.op for f in graph_def.library.function for n in f.node_def}
    meta["ops"] = sorted(ops)
    meta["unregistered"] = sorted(o for o in ops if op_def_registry.get(o) is None)
    meta["tfbegan_imported"] = any(m.split(".")[0] == "tfbegan" for m in sys.modules)
    np.savez(out_path, **out)
    with open(out_path + ".json", "w") as f:
        json.dump(meta, f)
""")


def test_fresh_process_without_tfbegan(exported, tmp_path):
    model, _, path, loaded = exported
    z = model.sample_z(3, seed=21).numpy()
    x = np.clip(model.generator(z, training=False).numpy(), -1, 1)
    np.savez(tmp_path / "in.npz", z=z, x=x)
    script = tmp_path / "fresh.py"
    script.write_text(_FRESH)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, str(script), path, str(tmp_path / "in.npz"),
                           str(tmp_path / "out.npz")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    meta = json.loads((tmp_path / "out.npz.json").read_text())
    assert meta["tfbegan_imported"] is False
    assert {"serving_default", "sample", "interpolate", "encode"} <= set(meta["signatures"])

    raw = model.generator(z, training=False).numpy()
    np.testing.assert_allclose(out["default_float"], np.clip(raw, -1, 1), atol=1e-5)
    assert np.abs(out["default_images"].astype(int) - imaging.to_uint8(raw)).max() <= 1
    np.testing.assert_allclose(out["sample_float"],
                               np.clip(model.generate(5, seed=9).numpy(), -1, 1), atol=1e-5)
    # The same seed, two processes, one graph: identical bits.
    here = loaded.signatures["sample"](num=tf.constant(5), seed=tf.constant(9, tf.int64))
    np.testing.assert_array_equal(out["sample_float"], here["images_float"].numpy())
    np.testing.assert_array_equal(out["sample_images"], here["images"].numpy())
    t = np.linspace(0, 1, 4, dtype=np.float32)[:, None]
    line = (1 - t) * z[0] + t * z[1]
    np.testing.assert_allclose(out["interp_float"],
                               np.clip(model.generator(line, training=False), -1, 1),
                               atol=1e-5)
    np.testing.assert_allclose(out["encode_z"], model.encode(x).numpy(), atol=1e-5)

    # The session loader (Serving's path) gives the same answers.
    np.testing.assert_allclose(out["session_float"], out["default_float"], atol=1e-6)
    np.testing.assert_array_equal(out["session_sample"], out["sample_images"])
    assert "shape" in meta["wrong_width"] and "6" in meta["wrong_width"]
    # Non-finite latents are rejected by the graph itself, naming the input.
    assert meta["nan_z"].startswith("InvalidArgument: z must be finite (no NaN or Inf)")
    assert meta["session_nan_z"].startswith("InvalidArgument: z must be finite")
    assert meta["session_inf_z_end"].startswith("InvalidArgument: z_end must be finite")

    # Core TensorFlow ops only (registered in a process that loaded no custom op).
    assert meta["unregistered"] == []
    assert {"Conv2D", "MatMul", "Elu", "StatelessRandomUniformV2", "Assert",
            "EnsureShape", "CheckNumerics"} <= set(meta["ops"])


def test_saved_model_cli_show(exported):
    path = exported[2]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(["saved_model_cli", "show", "--dir", path, "--all"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    blocks = {}
    for block in proc.stdout.split("signature_def[")[1:]:
        name, body = block.split("]", 1)
        blocks[name.strip("'")] = body.split("Method name is")[0]

    def tensors(body, kind):
        part = body.split(f"{kind}(s):")[1]
        part = part.split("output(s):")[0] if kind == "input" else part
        found = {}
        for item in part.split(f"{kind}s['")[1:]:
            key = item.split("'")[0]
            dtype = item.split("dtype: ")[1].split()[0]
            shape = item.split("shape: ")[1].splitlines()[0]
            found[key] = (dtype, shape)
        return found

    images = {"images": ("DT_UINT8", f"(-1, {SIZE}, {SIZE}, 1)"),
              "images_float": ("DT_FLOAT", f"(-1, {SIZE}, {SIZE}, 1)")}
    assert tensors(blocks["serving_default"], "input") == {"z": ("DT_FLOAT", f"(-1, {Z_DIM})")}
    assert tensors(blocks["serving_default"], "output") == images
    assert tensors(blocks["sample"], "input") == {"num": ("DT_INT32", "()"),
                                                  "seed": ("DT_INT64", "()")}
    assert tensors(blocks["sample"], "output") == images
    assert tensors(blocks["interpolate"], "input") == {
        "z_start": ("DT_FLOAT", f"({Z_DIM})"), "z_end": ("DT_FLOAT", f"({Z_DIM})"),
        "steps": ("DT_INT32", "()")}
    assert tensors(blocks["interpolate"], "output") == images
    assert tensors(blocks["encode"], "input") == {
        "images": ("DT_FLOAT", f"(-1, {SIZE}, {SIZE}, 1)")}
    assert tensors(blocks["encode"], "output") == {"z": ("DT_FLOAT", f"(-1, {Z_DIM})")}
    for name in ("serving_default", "sample", "interpolate", "encode"):
        assert "tensorflow/serving/predict" in proc.stdout.split(f"signature_def['{name}']")[1]


def _encoder_models():
    from tfbegan.models import MODELS

    return sorted(name for name, cls in MODELS.items() if getattr(cls, "has_encoder", False))


@pytest.mark.parametrize("name", _encoder_models())
def test_registered_encoder_models_export(name, tmp_path):
    """Every registered model with an encoder exports ``encode`` and a ``sample`` that
    reproduces ``model.generate`` (its own prior: normal for VAE+BEGAN, sphere for AGE)."""
    from tfbegan.models import MODELS

    model = MODELS[name](image_size=SIZE, channels=1, filters=4, repeats=1, z_dim=Z_DIM,
                         h_dim=Z_DIM, seed=0)
    path = export_lib.export_generator(model, str(tmp_path))
    sigs = tf.saved_model.load(path).signatures
    assert {"serving_default", "sample", "interpolate", "encode"} <= set(sigs)
    assert export_lib.read_metadata(path)["prior"] == model.prior
    got = sigs["sample"](num=tf.constant(3), seed=tf.constant(4, tf.int64))["images_float"]
    np.testing.assert_allclose(got.numpy(), np.clip(model.generate(3, seed=4), -1, 1),
                               atol=1e-5)
    np.testing.assert_allclose(sigs["encode"](images=got)["z"].numpy(),
                               model.encode(got.numpy()).numpy(), atol=1e-5)


def test_a_generator_with_non_finite_weights_is_not_exported(tmp_path):
    # Its samples were NaN floats and black uint8 images, served as if fine.
    model = _tiny()
    weight = model.generator.trainable_variables[0]
    value = np.array(weight)
    value.flat[0] = np.inf
    weight.assign(value)
    base = str(tmp_path / "began")
    with pytest.raises(ValueError, match=r"refusing to export: 1 generator weights hold "
                                         r"NaN or Inf .*export an earlier checkpoint"):
        export_lib.export_generator(model, base)
    assert not os.path.exists(base) or os.listdir(base) == []
