"""Which take files are being written right now, so crash recovery leaves them alone.

Two signs, either one is enough: the path is open in a TakeWriter of this process (a
registry), or another process holds the OS advisory lock every TakeWriter takes on its
`.partial` file (another Blender recording into the same folder). A crashed writer holds
neither, so its file is recovered at once, however recently it changed.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from pathlib import Path
from typing import NamedTuple

# Windows byte-range locks are mandatory (a locked byte cannot be read by others), so the
# lock sits on one byte far beyond the end of any take, where no reader ever looks.
WINDOWS_LOCK_OFFSET = 1 << 40
_BUSY = {errno.EACCES, errno.EAGAIN, errno.EWOULDBLOCK, errno.EDEADLK}

_writing: set[str] = set()
_guard = threading.Lock()


class LockPlan(NamedTuple):
    """How to lock a file on a platform: the module and the offset of the locked byte."""

    module: str  # "fcntl" (flock of the whole file) or "msvcrt" (one byte)
    offset: int


def lock_plan(platform: str) -> LockPlan:
    """The lock used on `platform` (a sys.platform value); pure, so both are tested anywhere."""
    if platform.startswith("win"):
        return LockPlan("msvcrt", WINDOWS_LOCK_OFFSET)
    return LockPlan("fcntl", 0)


PLAN = lock_plan(sys.platform)


def try_lock(fd: int, plan: LockPlan = PLAN) -> bool | None:
    """Lock the open file without waiting: True locked, False someone else holds it,
    None when the file system has no locks (then only the registry protects it)."""
    try:
        if plan.module == "fcntl":
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            import msvcrt

            _at_offset(fd, plan.offset, lambda: msvcrt.locking(fd, msvcrt.LK_NBLCK, 1))
    except OSError as exc:
        return False if exc.errno in _BUSY else None
    return True


def unlock(fd: int, plan: LockPlan = PLAN) -> None:
    """Release a lock taken by try_lock (closing the file releases it as well)."""
    try:
        if plan.module == "fcntl":
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            import msvcrt

            _at_offset(fd, plan.offset, lambda: msvcrt.locking(fd, msvcrt.LK_UNLCK, 1))
    except OSError:
        pass  # not locked: nothing to release


def _at_offset(fd: int, offset: int, action) -> None:
    """msvcrt locks from the current position: run `action` there and seek back."""
    position = os.lseek(fd, 0, os.SEEK_CUR)
    os.lseek(fd, offset, os.SEEK_SET)
    try:
        action()
    finally:
        os.lseek(fd, position, os.SEEK_SET)


def _key(path: str | os.PathLike) -> str:
    return os.path.normcase(os.path.abspath(path))


def register(path: Path) -> None:
    """A TakeWriter of this process is writing `path` from now on."""
    with _guard:
        _writing.add(_key(path))


def unregister(path: Path) -> None:
    with _guard:
        _writing.discard(_key(path))


def is_being_written(path: str | os.PathLike) -> bool:
    """True while a TakeWriter, in this process or another, has `path` open."""
    with _guard:
        if _key(path) in _writing:
            return True
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return False  # gone or unreadable: nobody is writing it
    try:
        return try_lock(fd) is False
    finally:
        os.close(fd)  # releases the probe's own lock
