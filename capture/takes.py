"""Take files: the raw face frames of a recording plus its metadata (see TAKES.md).

A take is written while it is recorded: frames go out in checksummed chunks every
fraction of a second to `<name>.partial`, and finishing renames it into place, so a
crash loses at most the last chunk and a finished take is never half-written.
Standard library and numpy only: the capture process and Blender both import it.
"""

from __future__ import annotations

import json
import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .protocol import NUM_BLENDSHAPES, NUM_LANDMARKS, FaceFrame

FORMAT_VERSION = 1
# Version 2: metadata "face_geometry": false, and FRMS chunks without landmarks and transforms
# (a Live Link CSV has none: storing NaN for them made a 5.4 MB CSV a 57.8 MB take).
NO_GEOMETRY_VERSION = 2
MAGIC = b"FMTAKE1\n"
PARTIAL_SUFFIX = ".partial"
TAKE_SUFFIX = ".fmtake"
_CHUNK = struct.Struct("<4sII")  # tag, payload length, crc32 of the payload
_META, _FRAMES, _END = b"META", b"FRMS", b"END_"
_MAX_CHUNK = 256 * 1024 * 1024


class TakeError(Exception):
    """A take file that cannot be read or written, with the reason in words."""


@dataclass
class Take:
    """A whole take in memory; rows with no face hold NaN in the face arrays."""

    metadata: dict
    timestamps_us: np.ndarray  # int64 (N,)
    frame_indices: np.ndarray  # int64 (N,)
    face_found: np.ndarray  # bool (N,)
    landmarks: np.ndarray  # float32 (N, 478, 3), normalized image coordinates
    blendshapes: np.ndarray  # float32 (N, 52), MediaPipe order
    transforms: np.ndarray  # float32 (N, 4, 4)
    channels: np.ndarray  # float32 (N, C): extra channels named in metadata["channel_names"]
    complete: bool = True  # False when read from an unfinished or damaged file
    problem: str = ""  # why reading stopped early, for the user

    @property
    def frame_count(self) -> int:
        return int(self.timestamps_us.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.metadata.get("image_size", (0, 0)))

    @property
    def channel_names(self) -> list[str]:
        return list(self.metadata.get("channel_names", []))

    @property
    def duration_s(self) -> float:
        if self.frame_count < 2:
            return 0.0
        return float(self.timestamps_us[-1] - self.timestamps_us[0]) / 1e6


def empty_arrays(count: int, channel_count: int = 0) -> dict[str, np.ndarray]:
    """Arrays for `count` frames with no face, to be filled in."""
    return {
        "timestamps_us": np.zeros(count, np.int64),
        "frame_indices": np.arange(count, dtype=np.int64),
        "face_found": np.zeros(count, bool),
        "landmarks": np.full((count, NUM_LANDMARKS, 3), np.nan, np.float32),
        "blendshapes": np.full((count, NUM_BLENDSHAPES), np.nan, np.float32),
        "transforms": np.full((count, 4, 4), np.nan, np.float32),
        "channels": np.full((count, channel_count), np.nan, np.float32),
    }


def has_geometry(metadata: dict) -> bool:
    """False for a take without face geometry (no landmarks, no transforms), e.g. a Live Link CSV."""
    return metadata.get("face_geometry", True) is not False


def no_geometry(count: int) -> dict[str, np.ndarray]:
    """Landmarks and transforms of `count` frames without face geometry: read-only NaN, no memory."""
    nan = np.float32(np.nan)
    return {"landmarks": np.broadcast_to(nan, (count, NUM_LANDMARKS, 3)),
            "transforms": np.broadcast_to(nan, (count, 4, 4))}


_GEOMETRY = ("landmarks", "transforms")


def _frames_payload(arrays: dict[str, np.ndarray], geometry: bool = True) -> bytes:
    count = arrays["timestamps_us"].shape[0]
    return b"".join([struct.pack("<I", count)] + [
        arrays[name].astype(dtype).tobytes()
        for name, dtype, _ in _frames_layout(count, 0, geometry)])


def _frames_layout(count: int, channel_count: int, geometry: bool) -> list[tuple[str, str, tuple]]:
    layout = [
        ("timestamps_us", "<i8", (count,)),
        ("frame_indices", "<i8", (count,)),
        ("face_found", "u1", (count,)),
        ("landmarks", "<f4", (count, NUM_LANDMARKS, 3)),
        ("blendshapes", "<f4", (count, NUM_BLENDSHAPES)),
        ("transforms", "<f4", (count, 4, 4)),
        ("channels", "<f4", (count, channel_count)),
    ]
    return [entry for entry in layout if geometry or entry[0] not in _GEOMETRY]


def _parse_frames(payload: bytes, channel_count: int, geometry: bool = True) -> dict[str, np.ndarray]:
    (count,) = struct.unpack_from("<I", payload)
    layout = _frames_layout(count, channel_count, geometry)
    expected = 4 + sum(np.dtype(dt).itemsize * int(np.prod(shape)) for _, dt, shape in layout)
    if len(payload) != expected:
        raise TakeError(f"frame chunk has {len(payload)} bytes, expected {expected}")
    arrays, offset = {}, 4
    for name, dtype, shape in layout:
        n = int(np.prod(shape))
        arrays[name] = np.frombuffer(payload, dtype, n, offset).reshape(shape)
        offset += np.dtype(dtype).itemsize * n
    arrays["face_found"] = arrays["face_found"].astype(bool)
    return arrays if geometry else {**arrays, **no_geometry(count)}


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return _CHUNK.pack(tag, len(payload), zlib.crc32(payload)) + payload


class TakeWriter:
    """Append frames while recording; `finish()` makes the take final atomically.

    Until then the data lives in `<path>.partial`, flushed every `flush_interval_s`,
    which read_take() can recover after a crash.
    """

    def __init__(self, path: str | os.PathLike, metadata: dict, flush_interval_s: float = 0.25) -> None:
        self.path = Path(path)
        self.partial_path = self.path.with_name(self.path.name + PARTIAL_SUFFIX)
        self.geometry = has_geometry(metadata)
        version = FORMAT_VERSION if self.geometry else NO_GEOMETRY_VERSION
        self.metadata = {"format_version": version, **metadata}
        self.channel_count = len(self.metadata.get("channel_names", []))
        self.flush_interval_s = flush_interval_s
        self.frame_count = 0
        self._rows: list[tuple] = []
        self._last_flush = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.partial_path, "wb")
        self._file.write(MAGIC + _chunk(_META, json.dumps(self.metadata).encode("utf-8")))
        self._file.flush()

    @property
    def frames_appended(self) -> int:
        """Frames appended so far: those written plus those queued for the next flush."""
        return self.frame_count + len(self._rows)

    def append(self, frame: FaceFrame, channels: np.ndarray | None = None) -> None:
        """Queue one frame (its first face, if any); flush when the interval has passed."""
        self._rows.append((frame, channels))
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def append_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Write a block of frames given as arrays (see empty_arrays)."""
        self.flush()
        self._write_arrays(arrays)

    def flush(self) -> None:
        """Write queued frames as one chunk and push it to the operating system."""
        if self._rows:
            arrays = empty_arrays(len(self._rows), self.channel_count)
            for row, (frame, channels) in enumerate(self._rows):
                arrays["timestamps_us"][row] = frame.timestamp_us
                arrays["frame_indices"][row] = frame.index
                if frame.faces:
                    face = frame.faces[0]
                    arrays["face_found"][row] = True
                    arrays["landmarks"][row] = face.landmarks
                    arrays["blendshapes"][row] = face.blendshapes
                    arrays["transforms"][row] = face.transform
                if channels is not None:
                    arrays["channels"][row] = channels
            self._rows.clear()
            self._write_arrays(arrays)
        self._last_flush = time.monotonic()

    def _write_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self._file.write(_chunk(_FRAMES, _frames_payload(arrays, self.geometry)))
        self._file.flush()
        self.frame_count += int(arrays["timestamps_us"].shape[0])

    def finish(self, final_metadata: dict | None = None) -> Path:
        """Write the end marker, sync to disk and rename the take into place."""
        self.flush()
        end = {"frame_count": self.frame_count, "metadata": final_metadata or {}}
        self._file.write(_chunk(_END, json.dumps(end).encode("utf-8")))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial_path, self.path)
        return self.path

    def abort(self) -> None:
        """Throw the recording away: nothing is left on disk."""
        if not self._file.closed:
            self._file.close()
        self.partial_path.unlink(missing_ok=True)

    def __enter__(self) -> "TakeWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def write_take(path: str | os.PathLike, take: Take) -> Path:
    """Write a whole in-memory take atomically."""
    writer = TakeWriter(path, take.metadata)
    try:
        writer.append_arrays({
            "timestamps_us": take.timestamps_us, "frame_indices": take.frame_indices,
            "face_found": take.face_found, "landmarks": take.landmarks,
            "blendshapes": take.blendshapes, "transforms": take.transforms, "channels": take.channels,
        })
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


def recover_take(partial_path: str | os.PathLike) -> Path:
    """Finish a recording that was interrupted (a crash): every complete chunk becomes a take.

    The `.partial` file is removed only once the recovered take is safely in place."""
    partial_path = Path(partial_path)
    if not partial_path.name.endswith(TAKE_SUFFIX + PARTIAL_SUFFIX):
        raise TakeError(f"'{partial_path.name}' is not an interrupted take (*{TAKE_SUFFIX}{PARTIAL_SUFFIX})")
    final = partial_path.with_name(partial_path.name.removesuffix(PARTIAL_SUFFIX))
    if final.exists():
        raise TakeError(f"cannot recover '{partial_path.name}': '{final.name}' already exists")
    take = read_take(partial_path)
    take.metadata["recovered"] = take.problem or "the recording was interrupted"
    # Staged under another name: the writer's own .partial must not be the file we read.
    staged = write_take(final.with_name(final.name + ".recovering"), take)
    os.replace(staged, final)
    partial_path.unlink()
    return final


def read_take(path: str | os.PathLike) -> Take:
    """Read a take, or every complete chunk of an unfinished or damaged one.

    Raises TakeError when the file is missing, not a take, or has no readable header."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TakeError(f"cannot read take '{path}': {exc.strerror or exc}") from None
    if not data.startswith(MAGIC):
        raise TakeError(f"'{path.name}' is not a Face Mocap take file")
    chunks, problem, ended = _read_chunks(data, len(MAGIC))
    if not chunks or chunks[0][0] != _META:
        raise TakeError(f"take '{path.name}' has no readable header" + (f" ({problem})" if problem else ""))
    try:
        metadata = json.loads(chunks[0][1].decode("utf-8"))
    except ValueError:
        raise TakeError(f"take '{path.name}' has a corrupt header") from None
    if not isinstance(metadata, dict) or metadata.get("format_version") not in (FORMAT_VERSION, NO_GEOMETRY_VERSION):
        raise TakeError(f"take '{path.name}' has an unsupported format version")
    geometry = has_geometry(metadata)
    channel_count = len(metadata.get("channel_names", []))
    blocks = []
    for tag, payload in chunks[1:]:
        if tag == _FRAMES:
            try:
                blocks.append(_parse_frames(payload, channel_count, geometry))
            except (TakeError, struct.error) as exc:
                problem = f"damaged frame chunk: {exc}"
                break
        elif tag == _END:
            try:
                metadata.update(json.loads(payload.decode("utf-8")).get("metadata", {}))
            except (ValueError, AttributeError):
                problem = "corrupt end marker"
    arrays = empty_arrays(0, channel_count)
    if blocks:
        arrays = {name: np.concatenate([block[name] for block in blocks]) for name in arrays
                  if geometry or name not in _GEOMETRY}
    if not geometry:  # read-only NaN of the usual shapes, taking no memory
        arrays.update(no_geometry(arrays["timestamps_us"].shape[0]))
    if not ended and not problem:
        problem = "the take was not finished (recording interrupted)"
    return Take(metadata=metadata, complete=ended and not problem, problem=problem, **arrays)


def _read_chunks(data: bytes, offset: int) -> tuple[list[tuple[bytes, bytes]], str, bool]:
    chunks: list[tuple[bytes, bytes]] = []
    while offset < len(data):
        if offset + _CHUNK.size > len(data):
            return chunks, "the file ends inside a chunk header", False
        tag, length, crc = _CHUNK.unpack_from(data, offset)
        offset += _CHUNK.size
        if tag not in (_META, _FRAMES, _END) or length > _MAX_CHUNK:
            return chunks, f"unknown or corrupt chunk at byte {offset - _CHUNK.size}", False
        payload = data[offset:offset + length]
        if len(payload) != length:
            return chunks, "the file ends inside a chunk", False
        if zlib.crc32(payload) != crc:
            return chunks, f"checksum mismatch at byte {offset - _CHUNK.size}", False
        offset += length
        chunks.append((tag, payload))
        if tag == _END:
            return chunks, "", True
    return chunks, "", False
