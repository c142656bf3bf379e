"""One training run per workdir: an advisory lock the kernel releases on death.

Two runs writing one workdir corrupt each other (interleaved ``metrics.csv`` rows,
the same checkpoint names, one run's cleanup deleting the other's temporaries).
:class:`WorkdirLock` takes an exclusive ``fcntl.flock`` on ``<workdir>/.tfbegan.lock``
without waiting: the second run fails at once with :class:`WorkdirLockedError`, one
line naming the holder's PID and host (the holder writes them into the file).

The lock belongs to the open file, not to the file's existence: when the holder
exits for any reason, SIGKILL and OOM kills included, the kernel drops it, so a dead
run never leaves a stale lock to clean up by hand. A clean release removes the file
while still holding the lock, and ``acquire`` re-checks that the file it locked is
still the one at the path, so a finished workdir holds no lock file and two runs
never hold two inodes of it.

Limits: ``flock`` is honoured across hosts on Linux NFS clients (emulated with POSIX
byte-range locks since Linux 2.6.12) and on most cluster file systems, but not on
every network file system; under ``MultiWorkerMirroredStrategy`` all workers share
the chief's workdir, so only the chief takes the lock.

Example::

    from tfbegan.training.workdir_lock import WorkdirLock

    with WorkdirLock(workdir):
        train(...)
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time

__all__ = ["LOCK_FILE", "WorkdirLock", "WorkdirLockError", "WorkdirLockedError",
           "read_holder"]

LOCK_FILE = ".tfbegan.lock"


class WorkdirLockError(ValueError):
    """The lock file cannot be created or locked (one-line message)."""


class WorkdirLockedError(WorkdirLockError):
    """Another live process holds the workdir.

    Attributes:
      workdir: the locked directory.
      holder: ``{"pid": int, "host": str, "since": float}`` as written by the
        holder, or ``{}`` when it had not written it yet.
    """

    def __init__(self, workdir, holder):
        self.workdir = workdir
        self.holder = dict(holder or {})
        who = (f"pid {self.holder.get('pid', '?')} on host "
               f"{self.holder.get('host', '?')}")
        if "since" in self.holder:
            started = time.strftime("%Y-%m-%d %H:%M:%S",
                                    time.localtime(self.holder["since"]))
            who += f", since {started}"
        super().__init__(f"workdir {workdir!r} is in use by another tfbegan run ({who}); "
                         f"wait for it to finish, stop it, or pass another --workdir.")


def read_holder(workdir):
    """What the current holder wrote into the lock file (``{}`` if unreadable)."""
    try:
        with open(os.path.join(workdir, LOCK_FILE)) as f:
            data = json.loads(f.read() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class WorkdirLock:
    """An exclusive, non-blocking advisory lock on ``<workdir>/.tfbegan.lock``.

    Args:
      workdir: the run directory (created if missing).

    ``acquire()`` (or entering the ``with`` block) raises
    :class:`WorkdirLockedError` when another process holds the lock and
    :class:`WorkdirLockError` when the file cannot be opened (e.g. a read-only
    workdir); ``release()`` (or leaving the block) is idempotent. The lock is held
    per open file: acquiring it again from the same process through another
    ``WorkdirLock`` also fails, which catches a script that trains twice into one
    workdir concurrently from threads.
    """

    def __init__(self, workdir):
        self.workdir = os.fspath(workdir)
        self.path = os.path.join(self.workdir, LOCK_FILE)
        self._fd = None

    @property
    def locked(self):
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self):
        if self._fd is not None:
            return self
        # The holder removes the file when it releases, so a file locked here may
        # have been unlinked meanwhile: lock again until the locked file is the one
        # at the path.
        for _ in range(100):
            fd = self._open_and_lock()
            try:
                if os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        else:
            raise WorkdirLockError(f"cannot lock {self.path!r}: it keeps being replaced.")
        self._fd = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError:
            # The lock holds regardless; a full disk only loses the holder's name.
            pass
        return self

    def _open_and_lock(self):
        try:
            os.makedirs(self.workdir, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise WorkdirLockError(f"cannot create the lock file {self.path!r} "
                                   f"({e.strerror or e}); pass a writable --workdir.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise WorkdirLockedError(self.workdir, self._wait_for_holder()) from None
            raise WorkdirLockError(f"cannot lock {self.path!r} ({e.strerror or e}).") from None
        return fd

    def _wait_for_holder(self, timeout=0.5):
        # The holder writes its name just after locking: a loser racing it may read
        # an empty file, so give the holder a moment before reporting "pid ?".
        deadline = time.monotonic() + timeout
        holder = read_holder(self.workdir)
        while not holder and time.monotonic() < deadline:
            time.sleep(0.02)
            holder = read_holder(self.workdir)
        return holder

    def release(self):
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Removed while still locked (acquire re-checks the path), so a finished
            # workdir holds no lock file.
            os.unlink(self.path)
        except OSError:
            pass
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False

    def __del__(self):
        try:
            self.release()
        except Exception:  # interpreter shutdown
            pass
