"""tfbegan.fileio: one DiskFullError for every shape of ENOSPC; per-run temp names."""

import errno
import os
import pickle
import subprocess
import sys

import pytest
import tensorflow as tf

from tfbegan import fileio


def test_disk_full_error_is_one_line_with_path_and_bytes():
    error = fileio.DiskFullError("/runs/a/ckpt.keras", 3 * 2**20 + 2**19, 1000)
    # Before: "needs about 3.5 MiB, 1000 B free", which read as a contradiction when
    # the free space (measured after cleanup) exceeded a low estimate.
    assert str(error) == ("no space left on device writing /runs/a/ckpt.keras: needs "
                          "about 3.5 MiB at its peak, 1000 B free once its partial files "
                          "were removed; free some space or choose another directory")
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert error.filename == "/runs/a/ckpt.keras"
    again = pickle.loads(pickle.dumps(error))  # crosses process boundaries intact
    assert str(again) == str(error)


@pytest.mark.parametrize("error, full", [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    # h5py raises OSError without errno; only its text tells.
    (OSError("Can't write data (file write failed: errno = 28, error message = 'No "
             "space left on device')"), True),
    (tf.errors.ResourceExhaustedError(None, None, "/x/variables.data; No space left on "
                                                  "device"), True),
    # An out-of-memory allocation is RESOURCE_EXHAUSTED too, but not a full disk.
    (tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with "
                                                  "shape[1024,1024]"), False),
    (OSError(errno.EACCES, "Permission denied"), False),
    (ValueError("bad value"), False),
])
def test_is_disk_full(error, full):
    assert fileio.is_disk_full(error) is full


def test_guard_converts_cleans_up_and_passes_other_errors(tmp_path):
    cleaned = []
    with pytest.raises(fileio.DiskFullError) as info:
        with fileio.disk_full_guard(tmp_path / "out", lambda: 2048,
                                    cleanup=lambda: cleaned.append(1)):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert cleaned == [1]
    assert f"writing {tmp_path / 'out'}: needs about 2.0 KiB at its peak, " in str(info.value)
    assert info.value.bytes_free == fileio.free_bytes(tmp_path)
    assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(PermissionError):
        with fileio.disk_full_guard(tmp_path, cleanup=lambda: cleaned.append(2)):
            raise PermissionError(errno.EACCES, "Permission denied")
    with pytest.raises(KeyboardInterrupt):
        with fileio.disk_full_guard(tmp_path, cleanup=lambda: cleaned.append(3)):
            raise KeyboardInterrupt
    assert cleaned == [1, 2, 3]
    # A missing path: free space of its nearest existing parent.
    assert fileio.free_bytes(tmp_path / "a" / "b") == fileio.free_bytes(tmp_path)


def test_temp_names_say_who_wrote_them(tmp_path):
    name = fileio.temp_name(str(tmp_path / "ckpt-1.keras"), directory=True)
    pid, host = fileio.temp_owner(name)
    assert pid == os.getpid() and name.endswith(f"@{host}.d")
    assert fileio.temp_owner(str(tmp_path / "ckpt-1.keras.tmp.d")) is None
    assert fileio.is_removable_temp(name)  # our own
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = name.replace(f"-{os.getpid()}@", f"-{proc.pid}@")
    assert fileio.is_removable_temp(dead)
    live = name.replace(f"-{os.getpid()}@", f"-{os.getppid()}@")
    assert not fileio.is_removable_temp(live)
    assert not fileio.is_removable_temp(name.replace(f"@{host}", "@other-host"))
    assert not fileio.is_removable_temp(str(tmp_path / "ckpt-1.keras.tmp.d"))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"12345")
    assert fileio.tree_bytes(tmp_path / "d") == 5
    fileio.remove_path(str(tmp_path / "d"))
    fileio.remove_path(str(tmp_path / "d"))  # missing is fine
    assert not (tmp_path / "d").exists()


def test_read_json_names_the_file(tmp_path):
    # Before: "error: Expecting property name enclosed in double quotes: line 2
    # column 1" without the file's name.
    path = tmp_path / "config.json"
    path.write_text('{"a": 1,\n}')
    with pytest.raises(ValueError) as info:
        fileio.read_json(path, "config.json")
    assert str(info.value) == (f"config.json {path} is not valid JSON (line 2, column 1: "
                               f"Expecting property name enclosed in double quotes); fix "
                               f"or delete it.")
    path.write_text('{"a": [1, 2]}')
    assert fileio.read_json(path) == {"a": [1, 2]}
    # Before: "'utf-8' codec can't decode byte 0xff ..." and an IsADirectoryError
    # traceback, neither naming the file.
    path.write_bytes(b'{"a": \xff}')
    with pytest.raises(ValueError, match=f"^config.json {path} is not JSON text "
                                         f"\\(byte 6 is not UTF-8\\)"):
        fileio.read_json(path, "config.json")
    path.unlink()
    path.mkdir()
    with pytest.raises(ValueError, match=f"^config.json {path} is a directory"):
        fileio.read_json(path, "config.json")


def test_check_utf8_path():
    assert fileio.check_utf8_path("/runs/été", "workdir") == "/runs/été"
    bad = os.fsdecode(b"/runs/w\xff")
    with pytest.raises(ValueError, match=r"^--workdir='/runs/w\\udcff' is not a UTF-8 "
                                         r"path \(byte 7\)"):
        fileio.check_utf8_path(bad, "workdir")
