"""Take files: the raw face frames of a recording plus its metadata (see TAKES.md).

A take is written while it is recorded: frames go out in checksummed chunks of at most
MAX_CHUNK_FRAMES every fraction of a second to `<name>.partial`, and finishing renames it
into place, so a crash loses at most the last chunk and a finished take is never
half-written. A write error keeps what is on disk. Standard library and numpy only: the
capture process and Blender both import it. The format, the reader and recovery live in
take_format, take_read and take_recover; this module is the API the rest of the code uses.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import numpy as np

from . import take_lock
from .face_choice import Tracked
from .protocol import FaceFrame
from .take_people import fill_slots
from .take_format import (  # noqa: F401  (re-exported: the API other modules import from here)
    END, FORMAT_VERSION, FRAMES, MAGIC, MAX_CHUNK_FRAMES, META, NO_GEOMETRY_VERSION, PARTIAL_SUFFIX, SLOTS_VERSION,
    TAKE_SUFFIX, ForwardOnly, Take, TakeError, TakeInfo, check_metadata, chunk, empty_arrays, encode_json, face_slots,
    forward_only, frame_bytes, frame_fields, frames_payload, has_geometry, no_geometry, version_for,
    writable_metadata,
)
from .take_lock import is_being_written  # noqa: F401
from .take_read import read_chunks, read_take, take_info  # noqa: F401
from .take_recover import recover_take, sync_folder  # noqa: F401

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class TakeWriter:
    """Append frames while recording; `finish()` makes the take final atomically.

    Until then the data lives in `<path>.partial`, written every `flush_interval_s`, which
    recover_take() finishes after a crash. The file is registered and OS-locked while open,
    so recovery never takes it from under a running recording. On a write error nothing
    is deleted: the error is kept, `frames_written` frames stay in the .partial, and
    `finish()` raises a TakeError saying so."""

    def __init__(self, path: str | os.PathLike, metadata: dict, flush_interval_s: float = 0.25) -> None:
        self.path = Path(path)
        self.partial_path = self.path.with_name(self.path.name + PARTIAL_SUFFIX)
        self.metadata = writable_metadata(metadata)
        self.channel_count = len(self.metadata.get("channel_names", []))
        self.geometry = has_geometry(self.metadata)
        self.slots = face_slots(self.metadata)  # > 1: every face in view, with person ids
        self._fields = [name for name, _, _ in frame_fields(self.channel_count, self.geometry, self.slots)]
        self.flush_interval_s = flush_interval_s
        self.frames_written = 0  # in complete chunks handed to the operating system
        self.frames_dropped = 0  # timestamp not after the previous frame's
        self.error: OSError | None = None
        self._rows: list[tuple[Tracked, np.ndarray | None]] = []
        self._last_us: int | None = None  # of the last frame accepted
        self._written_us = (0, 0)  # first and last timestamp on disk
        self._size = 0  # bytes of whole chunks on disk
        self._last_flush = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = _create_locked(self.partial_path)
        take_lock.register(self.partial_path)
        try:
            self._write(MAGIC + chunk(META, encode_json(self.metadata)))
        except OSError:
            self._release()
            self.partial_path.unlink(missing_ok=True)  # created by this call and holds no frame
            raise

    @property
    def frame_count(self) -> int:
        return self.frames_written

    @property
    def frames_appended(self) -> int:
        """Frames accepted so far: those written plus those queued for the next flush."""
        return self.frames_written + len(self._rows)

    def append(self, frame: FaceFrame | Tracked, channels: np.ndarray | None = None) -> None:
        """Queue one frame; write when the interval has passed. A FaceFrame's first face is the
        performer; a Tracked frame says who is who (face_choice.py). A take of one face a frame
        keeps the performer; one of several keeps everyone else too, with their person ids
        (the earliest seen first when there are more than the take has slots).

        A frame whose timestamp is not after the previous one is dropped and counted.
        Raises OSError when writing fails (and on every call after that)."""
        self._check_open()
        if isinstance(frame, FaceFrame):
            frame = Tracked.untracked(frame)
        if self._last_us is not None and frame.frame.timestamp_us <= self._last_us:
            self.frames_dropped += 1
            return
        self._last_us = frame.frame.timestamp_us
        self._rows.append((frame, channels))
        if len(self._rows) >= MAX_CHUNK_FRAMES or time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def append_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Write a block of frames given as arrays (see empty_arrays), in chunks of MAX_CHUNK_FRAMES.

        Written as given: an import or a copy keeps its timestamps (the bake drops backward ones)."""
        self.flush()
        arrays = {name: arrays[name] for name in self._fields}  # a take without geometry ignores any given
        if len(arrays["timestamps_us"]):
            self._write_arrays(arrays)
            self._last_us = int(arrays["timestamps_us"][-1])

    def flush(self) -> None:
        """Write queued frames and push them to the operating system."""
        self._check_open()
        if self._rows:
            arrays = empty_arrays(len(self._rows), self.channel_count, self.slots)
            for row, (tracked, channels) in enumerate(self._rows):
                arrays["timestamps_us"][row] = tracked.frame.timestamp_us
                arrays["frame_indices"][row] = tracked.frame.index
                if tracked.performer is not None:
                    face = tracked.frame.faces[tracked.performer]
                    arrays["face_found"][row] = True
                    arrays["landmarks"][row] = face.landmarks
                    arrays["blendshapes"][row] = face.blendshapes
                    arrays["transforms"][row] = face.transform
                if self.slots > 1:
                    fill_slots(arrays, row, tracked, self.slots)
                if channels is not None:
                    arrays["channels"][row] = channels
            self._rows.clear()
            self._write_arrays(arrays)
        self._last_flush = time.monotonic()

    def _write_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        count = len(arrays["timestamps_us"])
        for start in range(0, count, MAX_CHUNK_FRAMES):
            block = {name: array[start:start + MAX_CHUNK_FRAMES] for name, array in arrays.items()}
            self._write(chunk(FRAMES, frames_payload(block, self.channel_count, self.geometry, self.slots)))
            stamps = block["timestamps_us"]
            first = self._written_us[0] if self.frames_written else int(stamps[0])
            self._written_us = (first, int(stamps[-1]))
            self.frames_written += len(stamps)

    def _write(self, data: bytes) -> None:
        """Write whole chunks; on an error keep what came before and stop writing for good."""
        view = memoryview(data)
        try:
            while view:
                written = self._file.write(view)
                if not written:
                    raise OSError(errno.EIO, "the file system accepted no bytes")
                view = view[written:]
        except OSError as exc:
            self._fail(exc)
            raise
        self._size += len(data)

    def _fail(self, exc: OSError) -> None:
        self.error = exc
        try:
            if not self._file.closed:
                self._file.truncate(self._size)  # the torn chunk only; it also gives back space on a full disk
        except OSError:
            pass  # readers stop at a torn chunk anyway
        self._release()

    def _check_open(self) -> None:
        if self.error is not None:
            raise OSError(self.error.errno, f"the take is no longer written ({_reason(self.error)})")
        if self._file.closed:
            raise TakeError(f"take '{self.path.name}' is closed")

    def finish(self, final_metadata: dict | None = None) -> Path:
        """Write the end marker, sync to disk and rename the take into place.

        Raises TakeError (the .partial and every frame written stay) when writing failed,
        now or before, e.g. "disk full: 174 frames (5.8 s) kept in Take.fmtake.partial"."""
        additions = dict(final_metadata or {})
        if self.frames_dropped:
            additions["frames_dropped"] = self.frames_dropped
        if self.error is None:
            try:
                self.flush()
                end = {"frame_count": self.frames_written, "frames_dropped": self.frames_dropped, "metadata": additions}
                self._write(chunk(END, encode_json(end)))
                os.fsync(self._file.fileno())
                self._release()
                os.replace(self.partial_path, self.path)
            except OSError as exc:
                if self.error is None:
                    self._fail(exc)
        if self.error is not None:
            raise self.kept_error() from None
        sync_folder(self.path.parent)
        return self.path

    def kept_error(self) -> TakeError:
        """What failed and what is kept, in words."""
        first, last = self._written_us
        seconds = (last - first) / 1e6 if self.frames_written > 1 else 0.0
        return TakeError(f"{_reason(self.error)}: {self.frames_written} frames ({seconds:.1f} s) "
                         f"kept in {self.partial_path.name}")

    def close(self) -> None:
        """Stop without finishing: queued frames are written, the .partial stays for recovery."""
        try:
            if not self._file.closed and self.error is None:
                self.flush()
        finally:
            self._release()

    def abort(self) -> None:
        """Throw the recording away (the user cancelled): nothing is left on disk."""
        self._release()
        self.partial_path.unlink(missing_ok=True)

    def _release(self) -> None:
        if not self._file.closed:
            take_lock.unlock(self._file.fileno())
            self._file.close()
        take_lock.unregister(self.partial_path)

    def __enter__(self) -> "TakeWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()


def _reason(exc: OSError) -> str:
    return "disk full" if exc.errno in _DISK_FULL else (exc.strerror or str(exc))


def _create_locked(partial: Path):
    """Open the .partial for writing, locked; another process's running recording is never truncated."""
    fd = os.open(partial, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    file = open(fd, "r+b", buffering=0)  # every write goes straight to the OS, none is held back
    try:
        if take_lock.try_lock(fd) is False:
            raise OSError(errno.EBUSY, "another program is recording into this take", str(partial))
        file.truncate(0)
    except OSError:
        file.close()
        raise
    return file


def write_take(path: str | os.PathLike, take: Take) -> Path:
    """Write a whole in-memory take atomically, in bounded chunks.

    Raises TakeError when it cannot be written; what was written stays in the .partial."""
    try:
        writer = TakeWriter(path, take.metadata)
    except OSError as exc:
        raise TakeError(f"cannot write take '{path}': {exc.strerror or exc}") from None
    try:
        writer.append_arrays(take.arrays())
    except OSError:
        pass  # kept in writer.error: finish() raises with what was kept
    except BaseException:
        writer.close()
        raise
    return writer.finish()
