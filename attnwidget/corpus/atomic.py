"""Replace a whole folder at once: a process killed at any instant leaves the old folder
or the new one, never a mix.

The new content is written into a sibling staging folder (same filesystem, so renames are
atomic), flushed to disk, and swapped in. On Linux the swap is one ``renameat2(...,
RENAME_EXCHANGE)``; elsewhere (or on a filesystem without it) it is three steps: the
finished staging folder is renamed ``.NAME.new-*`` (so a later run knows it is whole), the
old folder renamed aside ``.NAME.old-*``, the new one renamed in, the old one deleted.
:meth:`AtomicFolder.recover` finishes or undoes a swap a crash cut short, and removes
staging folders a killed writer left.

A lock file beside the folder (``.NAME.lock``, ``flock``: the system drops it when its
process dies, however it dies) lets one writer at a time in; a second gets
:class:`FolderLockedError` saying who holds it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from attnwidget.errors import AttnWidgetError

#: Set False to use the three-step swap even where the kernel could exchange (tests).
USE_RENAME_EXCHANGE = True
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class FolderLockedError(AttnWidgetError):
    """Another process is writing the folder."""


class OutputFolderError(AttnWidgetError):
    """The output folder cannot be written (a file in its place, no permission, no space)."""


class AtomicFolder:
    """A folder that is only ever replaced whole. Use :meth:`locked` around everything
    that writes it, :meth:`staging` for a fresh sibling to fill, :meth:`publish` to swap
    that sibling in."""

    def __init__(self, path: str | os.PathLike):
        # A symbolic link is followed: the output goes where it points (beside its target,
        # on the target's filesystem), and the link stays.
        self.path = Path(path).resolve()
        self.parent = self.path.parent
        self.name = self.path.name
        self._lock_handle = None

    # -- checks -----------------------------------------------------------------------

    def check_writable(self) -> None:
        """Raise :class:`OutputFolderError` if the folder cannot be (re)placed here."""
        if self.path == self.path.parent:
            raise OutputFolderError(f"{self.path} is the root of the filesystem; give --out a folder of its own")
        if self.path.exists() and not self.path.is_dir():
            raise OutputFolderError(f"{self.path} is a file, not a folder; give --out a folder path")
        parent = self.parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise OutputFolderError(f"{parent} is a file, so {self.path} cannot be made")
        if not os.access(parent, os.W_OK | os.X_OK) or (self.path.is_dir() and not os.access(self.path, os.W_OK)):
            where = self.path if self.path.is_dir() and not os.access(self.path, os.W_OK) else parent
            raise OutputFolderError(
                f"{where} is not writable (the output is written beside {self.path} "
                "and swapped in whole); choose another --out or fix the permissions"
            )

    # -- lock -------------------------------------------------------------------------

    @property
    def lock_path(self) -> Path:
        return self.parent / f".{self.name}.lock"

    @contextlib.contextmanager
    def locked(self) -> Iterator[AtomicFolder]:
        """Hold the folder's lock (re-entrant within this object)."""
        if self._lock_handle is not None:
            yield self
            return
        self.check_writable()
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - the file outlives this block: its owner closes it
        except OSError as exc:
            raise OutputFolderError(f"cannot create the lock file {self.lock_path}: {exc.strerror or exc}") from exc
        try:
            if not _try_lock(handle):
                handle.seek(0)
                holder = _describe_holder(handle.read())
                raise FolderLockedError(
                    f"{self.path} is being written by another attnwidget run{holder}; "
                    "wait for it to finish (or stop it), or choose another --out"
                )
            handle.seek(0)
            handle.truncate()
            handle.write(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                        "command": " ".join(sys.argv)[:500],
                    }
                )
            )
            handle.flush()
        except BaseException:
            handle.close()
            raise
        self._lock_handle = handle
        try:
            self.recover()
            yield self
        finally:
            self._lock_handle = None
            _unlock(handle)
            handle.close()

    # -- staging and publishing -------------------------------------------------------

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A new empty sibling folder; removed on the way out unless published."""
        self._require_lock()
        path = self.parent / f".{self.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            path.mkdir()
        except OSError as exc:
            raise _output_error(exc, self.path) from exc
        try:
            yield path
        except OSError as exc:
            raise _output_error(exc, self.path) from exc
        finally:
            if path.exists():
                _remove(path)

    def publish(self, staged: Path) -> None:
        """Make ``staged`` (from :meth:`staging`, fully written) the folder, atomically."""
        self._require_lock()
        try:
            _sync_tree(staged)
            if not self.path.exists():
                os.rename(staged, self.path)
            elif not (USE_RENAME_EXCHANGE and _exchange(staged, self.path)):
                self._swap_in_steps(staged)
            _sync_dir(self.parent)
        except OSError as exc:
            raise _output_error(exc, self.path) from exc
        if staged.exists():  # after an exchange it holds the old folder
            _remove(staged)

    def _swap_in_steps(self, staged: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        ready = self.parent / f".{self.name}.new-{tag}"
        aside = self.parent / f".{self.name}.old-{tag}"
        os.rename(staged, ready)
        _sync_dir(self.parent)
        os.rename(self.path, aside)
        os.rename(ready, self.path)
        _sync_dir(self.parent)
        _remove(aside)

    def recover(self) -> list[str]:
        """Finish a swap a crash interrupted and remove what killed writers left behind;
        says what it did. Needs the lock (no writer may be at work)."""
        self._require_lock()
        done = []
        siblings = {
            kind: sorted(self.parent.glob(f".{glob.escape(self.name)}.{kind}-*")) for kind in ("tmp", "new", "old")
        }
        ready = max(siblings["new"], key=lambda p: p.stat().st_mtime, default=None)
        if ready is not None:
            # Written whole and marked ready, but not yet swapped in: finish the swap.
            if self.path.exists():
                os.rename(self.path, self.parent / f".{self.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(ready, self.path)
            done.append(f"finished replacing {self.path} with the output a stopped run had written")
        elif not self.path.exists() and siblings["old"]:
            os.rename(max(siblings["old"], key=lambda p: p.stat().st_mtime), self.path)
            done.append(f"restored {self.path} (a stopped run had moved it aside)")
        for leftover in sorted(self.parent.glob(f".{glob.escape(self.name)}.*-*")):
            if leftover.name.split(".")[-1].split("-")[0] in ("tmp", "new", "old") and leftover.is_dir():
                _remove(leftover)
        if done:
            _sync_dir(self.parent)
        return done

    def _require_lock(self) -> None:
        if self._lock_handle is None:
            raise RuntimeError("hold AtomicFolder.locked() while writing the folder")


@contextlib.contextmanager
def replacing_file(path: str | os.PathLike) -> Iterator:
    """A binary file to write whose content replaces ``path`` when the block ends without
    an error, atomically (a temporary sibling, flushed, then renamed over it)."""
    path = Path(path)
    temp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(temp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()


# ----------------------------------------------------------------------------- helpers


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # filesystem or kernel without it
        return False
    raise OSError(code, os.strerror(code), str(b))


def _sync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk (a power cut then finds them whole)."""
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _sync_dir(Path(folder))


def _sync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems cannot sync a directory; the renames still hold
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _output_error(exc: OSError, path: Path) -> OutputFolderError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        why = "no space left on the device" if exc.errno != errno.EFBIG else "a file grew past the size limit"
        return OutputFolderError(
            f"{why} while writing {path} ({exc.strerror}); {path} is unchanged. Free some space and run again"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputFolderError(f"cannot write {path}: {exc.strerror}; {path} is unchanged")
    return OutputFolderError(f"writing {path} failed: {exc}; {path} is unchanged")


def _try_lock(handle) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(handle) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _describe_holder(text: str) -> str:
    try:
        info = json.loads(text)
    except ValueError:
        return ""
    return f" (pid {info.get('pid')} on {info.get('host')}, since {info.get('since')})"
