"""Every signature of every family checks its inputs in the graph, in a fresh process
that never imports tfbegan, with oneDNN on, through ``tf.saved_model.load`` and through
the TF1 session loader with feeds that skip Python's shape check (what TF Serving's C++
server does).

Before the checks: a rank-3 ``images`` to ``encode`` aborted the process (rc 134,
``tensor_format.h Check failed`` in a oneDNN convolution); 2 or 4 channels and rank 5
were encoded silently; an empty batch to ``serving_default`` came back with the last
hidden layer's channel count; no signature but ``sample`` capped its batch.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from tiny_exports import export_tiny

from tfbegan.serving import export as export_lib
from tfbegan.serving import limits

FAMILIES = ("BEGAN", "DenoisingBEGAN", "VAEBEGAN", "BiGAN", "AGE")
SIZE, Z_DIM, CAP = 16, 6, 4
ENCODERS = {"VAEBEGAN", "BiGAN", "AGE"}

# The fresh process: every bad input of every signature, both loaders, one JSON out.
_SCRIPT = textwrap.dedent(r"""
    import json, sys
    import numpy as np
    import tensorflow as tf

    f32, f64, i32, i64 = np.float32, np.float64, np.int32, np.int64

    def cases(meta):
        z, s, c, cap = meta["z_dim"], meta["image_size"], meta["channels"], meta["max_batch"]
        zs = np.zeros(z, f32)
        return {
            "serving_default": {
                "z_ok": {"z": np.zeros([2, z], f32)},
                "z_empty": {"z": np.zeros([0, z], f32)},
                "z_rank1": {"z": np.zeros([z], f32)},
                "z_rank3": {"z": np.zeros([2, z, 1], f32)},
                "z_width": {"z": np.zeros([2, z + 1], f32)},
                "z_batch": {"z": np.zeros([cap + 1, z], f32)},
                "z_dtype": {"z": np.zeros([2, z], f64)}},
            "sample": {
                "sample_ok": {"num": i32(cap), "seed": i64(0)},
                "num_shape": {"num": np.array([2], i32), "seed": i64(0)},
                "seed_shape": {"num": i32(2), "seed": np.array([0], i64)},
                "num_cap": {"num": i32(cap + 1), "seed": i64(0)},
                "num_dtype": {"num": i64(2), "seed": i64(0)}},
            "interpolate": {
                "interpolate_ok": {"z_start": zs, "z_end": zs, "steps": i32(cap)},
                "z_start_rank": {"z_start": zs[None], "z_end": zs, "steps": i32(3)},
                "z_end_width": {"z_start": zs, "z_end": zs[1:], "steps": i32(3)},
                "steps_shape": {"z_start": zs, "z_end": zs, "steps": np.array([3], i32)},
                "steps_cap": {"z_start": zs, "z_end": zs, "steps": i32(cap + 1)}},
            "encode": {
                "images_ok": {"images": np.zeros([2, s, s, c], f32)},
                "images_empty": {"images": np.zeros([0, s, s, c], f32)},
                "images_rank3": {"images": np.zeros([s, s, c], f32)},
                "images_no_channels": {"images": np.zeros([2, s, s], f32)},
                "images_2_channels": {"images": np.zeros([2, s, s, c + 1], f32)},
                "images_4_channels": {"images": np.zeros([2, s, s, c + 3], f32)},
                "images_rank5": {"images": np.zeros([1, 2, s, s, c], f32)},
                "images_size": {"images": np.zeros([2, s // 2, s // 2, c], f32)},
                "images_batch": {"images": np.zeros([cap + 1, s, s, c], f32)},
                "images_dtype": {"images": np.zeros([2, s, s, c], f64)}},
        }

    def outcome(call):
        try:
            return {"ok": {k: list(np.shape(v)) for k, v in call().items()}}
        except Exception as e:
            lines = [ln.strip() for ln in str(e).splitlines() if ln.strip() and not
                     ln.startswith(("Graph execution error", "Detected at node", "<stack",
                                    "\t [[", " [["))]
            return {"error": type(e).__name__, "message": " | ".join(lines)}

    def eager(export_dir, table):
        sigs = tf.saved_model.load(export_dir).signatures
        return {case: outcome(lambda: {k: v.numpy() for k, v in sigs[name](
                    **{k: tf.constant(v) for k, v in inputs.items()}).items()})
                for name, group in table.items() if name in sigs
                for case, inputs in group.items()}

    def session(export_dir, table):
        with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as sess:
            mg = tf.compat.v1.saved_model.loader.load(sess, ["serve"], export_dir)
            out = {}
            for name, group in table.items():
                if name not in mg.signature_def:
                    continue
                sig = mg.signature_def[name]
                keys = sorted(sig.outputs)
                fetches = [g.get_tensor_by_name(sig.outputs[k].name) for k in keys]
                for case, inputs in group.items():
                    # _do_run feeds as a C++ client does: no Python-side shape check.
                    feeds = {g.get_tensor_by_name(sig.inputs[k].name).ref(): v
                             for k, v in inputs.items()}
                    out[case] = outcome(lambda: dict(zip(keys, sess._do_run(
                        None, [], fetches, feeds, None, None))))
            return out

    exports, out_path = json.loads(sys.argv[1]), sys.argv[2]
    results = {}
    for family, export_dir in exports.items():
        with open(export_dir + "/assets.extra/tfbegan.json") as f:
            meta = json.load(f)
        meta.setdefault("max_batch", 1024)
        table = cases(meta)
        results[family] = {"eager": eager(export_dir, table),
                           "session": session(export_dir, table)}
    results["tfbegan_imported"] = any(m.split(".")[0] == "tfbegan" for m in sys.modules)
    with open(out_path, "w") as f:
        json.dump(results, f)
""")


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """The fresh process's outcomes: ``{family: {loader: {case: outcome}}}``."""
    directory = tmp_path_factory.mktemp("checks")
    exports = {name: export_tiny(directory, name, 0, image_size=SIZE, max_batch=CAP,
                                 filters=4, z_dim=Z_DIM, h_dim=Z_DIM)[2]
               for name in FAMILIES}
    script = directory / "checks.py"
    script.write_text(_SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="1",
               TF_NUM_INTRAOP_THREADS="1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, str(script), json.dumps(exports),
                           str(directory / "out.json")], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=300)
    # -6 (SIGABRT, rc 134 in a shell) was the rank-3 encode request before the checks.
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    results = json.loads((directory / "out.json").read_text())
    assert results.pop("tfbegan_imported") is False
    return exports, results


def _shape_error(name, got, expected):
    return f"assertion failed: [{name} must have shape {expected}, got {got}]"


Z = f"[batch, {Z_DIM}]"
IMAGES = f"[batch, {SIZE}, {SIZE}, 1]"
# Each bad input and a piece of the one-line message naming it and what was expected.
SHAPE_ERRORS = {
    "z_rank1": _shape_error("z", f"[{Z_DIM}]", Z),
    "z_rank3": _shape_error("z", f"[2,{Z_DIM},1]", Z),
    "z_width": _shape_error("z", f"[2,{Z_DIM + 1}]", Z),
    "num_shape": _shape_error("num", "[1]", "[]"),
    "seed_shape": _shape_error("seed", "[1]", "[]"),
    "z_start_rank": _shape_error("z_start", f"[1,{Z_DIM}]", f"[{Z_DIM}]"),
    "z_end_width": _shape_error("z_end", f"[{Z_DIM - 1}]", f"[{Z_DIM}]"),
    "steps_shape": _shape_error("steps", "[1]", "[]"),
    "images_rank3": _shape_error("images", f"[{SIZE},{SIZE},1]", IMAGES),
    "images_no_channels": _shape_error("images", f"[2,{SIZE},{SIZE}]", IMAGES),
    "images_2_channels": _shape_error("images", f"[2,{SIZE},{SIZE},2]", IMAGES),
    "images_4_channels": _shape_error("images", f"[2,{SIZE},{SIZE},4]", IMAGES),
    "images_rank5": _shape_error("images", f"[1,2,{SIZE},{SIZE},1]", IMAGES),
    "images_size": _shape_error("images", f"[2,{SIZE // 2},{SIZE // 2},1]", IMAGES),
}
CAP_ERRORS = {  # Before: only num was capped.
    "z_batch": f"assertion failed: [z batch must be at most {CAP} (max_batch), "
               f"got {CAP + 1}]",
    "num_cap": f"assertion failed: [num must be in [1, {CAP}] (max_batch), got {CAP + 1}]",
    "steps_cap": f"assertion failed: [steps must be in [2, {CAP}] (max_batch), "
                 f"got {CAP + 1}]",
    "images_batch": f"assertion failed: [images batch must be at most {CAP} (max_batch), "
                    f"got {CAP + 1}]",
}
# A wrong dtype never reaches the graph: the runtime refuses the argument first.
DTYPE_ERRORS = {
    "eager": {"z_dtype": "was expected to be a float tensor but is a double tensor",
              "num_dtype": "was expected to be a int32 tensor but is a int64 tensor",
              "images_dtype": "was expected to be a float tensor but is a double tensor"},
    "session": {"z_dtype": "Expects arg[0] to be float but double is provided",
                "num_dtype": "Expects arg[0] to be int32 but int64 is provided",
                "images_dtype": "Expects arg[0] to be float but double is provided"},
}
IMAGE_OUT = [SIZE, SIZE, 1]
GOOD = {"z_ok": {"images": [2] + IMAGE_OUT, "images_float": [2] + IMAGE_OUT},
        # Before: [0, 16, 16, <hidden channels>] with oneDNN on.
        "z_empty": {"images": [0] + IMAGE_OUT, "images_float": [0] + IMAGE_OUT},
        "sample_ok": {"images": [CAP] + IMAGE_OUT, "images_float": [CAP] + IMAGE_OUT},
        "interpolate_ok": {"images": [CAP] + IMAGE_OUT,
                           "images_float": [CAP] + IMAGE_OUT},
        "images_ok": {"z": [2, Z_DIM]},
        # Before: "input depth must be evenly divisible by filter depth" with oneDNN.
        "images_empty": {"z": [0, Z_DIM]}}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("loader", ["eager", "session"])
def test_every_bad_input_is_invalid_argument_naming_it(checked, family, loader):
    got = checked[1][family][loader]
    expected = {**SHAPE_ERRORS, **CAP_ERRORS, **DTYPE_ERRORS[loader]}
    encode_cases = {k for k in list(expected) + list(GOOD) if k.startswith("images")}
    cases = set(expected) | set(GOOD)
    assert set(got) == (cases if family in ENCODERS else cases - encode_cases)
    for case, outcome in got.items():
        if case in GOOD:
            assert outcome == {"ok": GOOD[case]}, (case, outcome)
        else:
            assert outcome["error"] == "InvalidArgumentError", (case, outcome)
            assert expected[case] in outcome["message"], (case, outcome)
            assert "\n" not in outcome["message"]


def test_max_batch_is_recorded_and_validated(checked, tmp_path):
    exports, _ = checked
    meta = export_lib.read_metadata(exports["BEGAN"])
    assert (meta["max_batch"], meta["max_num"], meta["max_steps"]) == (CAP, CAP, CAP)
    _, _, default = export_tiny(tmp_path, "BEGAN", 0, filters=4)
    meta = export_lib.read_metadata(default)
    assert meta["max_batch"] == limits.DEFAULT_MAX_BATCH == 1024
    sigs = tf.saved_model.load(default).signatures
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"num must be in \[1, 1024\] \(max_batch\), got 1025"):
        sigs["sample"](num=tf.constant(1025), seed=tf.constant(0, tf.int64))
    # steps >= 2 always: a cap of 1 still lets interpolate draw its two end points.
    assert limits.steps_cap(1) == 2 and limits.steps_cap(CAP) == CAP
    for bad in (0, 65537, 2.0, True, "8", None):
        with pytest.raises(ValueError) as info:
            export_tiny(tmp_path / "bad", "BEGAN", 0, max_batch=bad, filters=4)
        assert str(info.value) == f"max_batch={bad!r} must be an integer in [1, 65536]."
    assert not os.path.exists(tmp_path / "bad")  # validated before any work
    np.testing.assert_array_equal(
        sigs["serving_default"](z=tf.zeros([0, meta["z_dim"]]))["images"].numpy().shape,
        [0, 8, 8, 1])
