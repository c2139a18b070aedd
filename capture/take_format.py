"""The take file format (TAKES.md): layout, limits and the one place metadata is validated.

No file access here: capture/take_read.py reads, capture/takes.py writes.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .protocol import MAX_FACES, NUM_BLENDSHAPES, NUM_LANDMARKS

FORMAT_VERSION = 1
NO_GEOMETRY_VERSION = 2  # a take whose source has no face geometry: no landmarks or transforms stored
SLOTS_VERSION = 3  # a take of every face in view (face_slots > 1), each with its person id
VERSIONS = (FORMAT_VERSION, NO_GEOMETRY_VERSION, SLOTS_VERSION)
MAGIC = b"FMTAKE1\n"
PARTIAL_SUFFIX = ".partial"
TAKE_SUFFIX = ".fmtake"
CHUNK_HEADER = struct.Struct("<4sII")  # tag, payload length, crc32 of the payload
COUNT = struct.Struct("<I")  # every FRMS payload starts with its frame count
TIMESTAMP = struct.Struct("<q")
META, FRAMES, END = b"META", b"FRMS", b"END_"
TAGS = (META, FRAMES, END)
MAX_CHUNK_FRAMES = 2048  # written chunks hold at most this many frames (about 12 MB)
MAX_JSON_BYTES = 16 * 1024 * 1024  # META and END_ are read whole; frame chunks never are
MAX_CHANNELS = 4096
MAX_IMAGE_SIDE = 1 << 16
MAX_RATE = 10_000.0  # frames per second
_TEXT_KEYS = ("name", "source", "source_path", "start_timecode", "timecode_source", "recovered")
_RATE_KEYS = ("fps", "scene_fps", "timecode_rate")


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
    # Every face in view (format version 3; a one-face take gets them from the arrays above):
    person_ids: np.ndarray | None = None  # int32 (N, K): person id in each slot, -1 = empty; slot 0 = the performer
    other_landmarks: np.ndarray | None = None  # float32 (N, K-1, 478, 3): slots 1..K-1
    other_blendshapes: np.ndarray | None = None  # float32 (N, K-1, 52)
    other_transforms: np.ndarray | None = None  # float32 (N, K-1, 4, 4)

    def __post_init__(self) -> None:
        if self.person_ids is None:  # one face a frame: the performer, person 0
            self.person_ids = np.where(self.face_found, 0, -1).astype(np.int32)[:, None]
            count = self.frame_count
            self.other_landmarks = np.empty((count, 0, NUM_LANDMARKS, 3), np.float32)
            self.other_blendshapes = np.empty((count, 0, NUM_BLENDSHAPES), np.float32)
            self.other_transforms = np.empty((count, 0, 4, 4), np.float32)

    @property
    def face_slots(self) -> int:
        """Faces stored per frame: the performer and up to face_slots - 1 others."""
        return int(self.person_ids.shape[1])

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

    def arrays(self) -> dict[str, np.ndarray]:
        """The frame arrays by field name (as empty_arrays makes them), those of every face when stored."""
        names = FIELD_NAMES + (SLOT_FIELD_NAMES if self.face_slots > 1 else ())
        return {name: getattr(self, name) for name in names}


@dataclass
class TakeInfo:
    """What a take holds, from its chunk headers alone (frame checksums are not checked)."""

    path: Path
    metadata: dict
    frame_count: int
    duration_s: float
    complete: bool
    problem: str
    largest_chunk_frames: int


# name, dtype, shape per frame; the order of the arrays in a FRMS payload
_FIELDS = (
    ("timestamps_us", np.dtype("<i8"), ()),
    ("frame_indices", np.dtype("<i8"), ()),
    ("face_found", np.dtype("u1"), ()),
    ("landmarks", np.dtype("<f4"), (NUM_LANDMARKS, 3)),
    ("blendshapes", np.dtype("<f4"), (NUM_BLENDSHAPES,)),
    ("transforms", np.dtype("<f4"), (4, 4)),
    ("channels", np.dtype("<f4"), None),  # (C,): the take's channel count
)
FIELD_NAMES = tuple(name for name, _, _ in _FIELDS)
GEOMETRY = ("landmarks", "transforms")
# after those, in a take of every face (K = face_slots > 1): name, dtype, shape per frame per slot
_SLOT_FIELDS = (
    ("person_ids", np.dtype("<i4"), ()),  # K slots
    ("other_landmarks", np.dtype("<f4"), (NUM_LANDMARKS, 3)),  # K - 1 slots, here and below
    ("other_blendshapes", np.dtype("<f4"), (NUM_BLENDSHAPES,)),
    ("other_transforms", np.dtype("<f4"), (4, 4)),
)
SLOT_FIELD_NAMES = tuple(name for name, _, _ in _SLOT_FIELDS)


def has_geometry(metadata: dict) -> bool:
    """False for a take from a source without face geometry (a Live Link CSV): it stores no landmarks."""
    return metadata.get("face_geometry", True) is not False


def face_slots(metadata: dict) -> int:
    """Faces stored per frame (1 unless the take holds every face in view; check_metadata checks it)."""
    slots = metadata.get("face_slots", 1)
    return slots if _is_int(slots) else 1


def version_for(metadata: dict) -> int:
    """The format version a take with this metadata is written in."""
    if not has_geometry(metadata):
        return NO_GEOMETRY_VERSION
    return SLOTS_VERSION if face_slots(metadata) > 1 else FORMAT_VERSION


def frame_fields(channel_count: int, geometry: bool = True, slots: int = 1) -> list[tuple[str, np.dtype, tuple[int, ...]]]:
    """(name, file dtype, per-frame shape) of each array stored, in payload order."""
    fields = [(name, dtype, (channel_count,) if shape is None else shape) for name, dtype, shape in _FIELDS
              if geometry or name not in GEOMETRY]
    if slots > 1:
        fields += [(name, dtype, ((slots,) if name == "person_ids" else (slots - 1,)) + shape)
                   for name, dtype, shape in _SLOT_FIELDS]
    return fields


def frame_bytes(count: int, channel_count: int, geometry: bool = True, slots: int = 1) -> int:
    """Payload length of a FRMS chunk holding `count` frames."""
    fields = frame_fields(channel_count, geometry, slots)
    return COUNT.size + count * sum(dtype.itemsize * math.prod(shape) for _, dtype, shape in fields)


def no_geometry(count: int) -> dict[str, np.ndarray]:
    """NaN landmarks and transforms for `count` frames without memory behind them (read-only broadcasts)."""
    return {"landmarks": np.broadcast_to(np.float32(np.nan), (count, NUM_LANDMARKS, 3)),
            "transforms": np.broadcast_to(np.float32(np.nan), (count, 4, 4))}


def empty_arrays(count: int, channel_count: int = 0, slots: int = 1) -> dict[str, np.ndarray]:
    """Arrays for `count` frames with no face, to be filled in (with `slots` faces a frame)."""
    arrays = {
        "timestamps_us": np.zeros(count, np.int64),
        "frame_indices": np.arange(count, dtype=np.int64),
        "face_found": np.zeros(count, bool),
        "landmarks": np.full((count, NUM_LANDMARKS, 3), np.nan, np.float32),
        "blendshapes": np.full((count, NUM_BLENDSHAPES), np.nan, np.float32),
        "transforms": np.full((count, 4, 4), np.nan, np.float32),
        "channels": np.full((count, channel_count), np.nan, np.float32),
    }
    if slots > 1:
        arrays.update(person_ids=np.full((count, slots), -1, np.int32),
                      **{name: np.full((count, slots - 1, *shape), np.nan, dtype.newbyteorder("="))
                         for name, dtype, shape in _SLOT_FIELDS[1:]})
    return arrays


def frames_payload(arrays: dict[str, np.ndarray], channel_count: int, geometry: bool = True, slots: int = 1) -> bytes:
    count = len(arrays["timestamps_us"])
    parts = [COUNT.pack(count)]
    for name, dtype, shape in frame_fields(channel_count, geometry, slots):
        array = np.asarray(arrays[name]).astype(dtype, copy=False)
        if array.shape != (count, *shape):
            raise TakeError(f"{name} has shape {array.shape}, expected {(count, *shape)}")
        parts.append(array.tobytes())
    return b"".join(parts)


def chunk(tag: bytes, payload: bytes) -> bytes:
    return CHUNK_HEADER.pack(tag, len(payload), zlib.crc32(payload)) + payload


def encode_json(value: dict) -> bytes:
    return json.dumps(value).encode("utf-8")


def parse_json(payload: bytes, what: str) -> object:
    """JSON from a chunk; anything malformed (bad UTF-8, bad syntax, nesting too deep) is a TakeError."""
    try:
        return json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        kind = "nested too deeply" if isinstance(exc, RecursionError) else type(exc).__name__
        raise TakeError(f"{what} is not valid JSON ({kind})") from None


def _json_kind(value: object) -> str:
    kinds = {list: "a list", str: "text", type(None): "null", bool: "true or false", int: "a number", float: "a number"}
    return kinds.get(type(value), type(value).__name__)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_metadata(metadata: object, what: str = "header") -> dict:
    """The metadata if every key a reader relies on has the right type and range, else TakeError."""
    if not isinstance(metadata, dict):
        raise TakeError(f"the take's {what} is {_json_kind(metadata)}, not a JSON object")
    version = metadata.get("format_version")
    if not _is_int(version) or version not in VERSIONS:
        raise TakeError(f"unsupported take format version {repr(version)[:40]}")
    slots = metadata.get("face_slots", 1)
    if not _is_int(slots) or not 1 <= slots <= MAX_FACES:
        raise TakeError(f"the take's {what} has a face_slots that is not a face count (1 to {MAX_FACES})")
    if slots > 1 and not has_geometry(metadata):
        raise TakeError(f"the take's {what} holds several faces but no face geometry")
    if not isinstance(metadata.get("face_geometry", True), bool) or version != version_for(metadata):
        raise TakeError(f"the take's {what} has a face_geometry or face_slots that does not match its format version")
    names = metadata.get("channel_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TakeError(f"the take's {what} has channel_names that are not a list of names")
    if len(names) > MAX_CHANNELS:
        raise TakeError(f"the take's {what} names {len(names)} channels (at most {MAX_CHANNELS})")
    size = metadata.get("image_size", [0, 0])
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(_is_int(v) and 0 <= v <= MAX_IMAGE_SIDE for v in size)):
        raise TakeError(f"the take's {what} has an image_size that is not two pixel counts")
    for key in _TEXT_KEYS:
        if key in metadata and not isinstance(metadata[key], str):
            raise TakeError(f"the take's {what} has a {key} that is not text")
    for key in _RATE_KEYS:
        if not _is_rate(metadata.get(key, 0)):
            raise TakeError(f"the take's {what} has an {key} that is not a frame rate")
    return metadata


def _is_rate(rate: object) -> bool:
    return (isinstance(rate, (int, float)) and not isinstance(rate, bool)
            and math.isfinite(rate) and 0 <= rate <= MAX_RATE)


def writable_metadata(metadata: dict) -> dict:
    """Metadata as a writer stores it: with its format version, and a frame rate that is no
    usable number (a camera can report NaN) as 0, unknown: a recording never fails over it."""
    prepared = {**metadata, "format_version": version_for(metadata)}
    for key in _RATE_KEYS:
        if key in prepared and not _is_rate(prepared[key]):
            prepared[key] = 0.0
    return check_metadata(prepared, "metadata to write")


def check_end(end: object, metadata: dict) -> tuple[int, dict]:
    """(frame count, metadata with the END_ additions) from a parsed END_ chunk, else TakeError."""
    if not isinstance(end, dict) or not isinstance(end.get("metadata", {}), dict):
        raise TakeError("the end marker is not a JSON object with a metadata object")
    count = end.get("frame_count")
    if not _is_int(count) or not 0 <= count < 1 << 32:
        raise TakeError("the end marker has no valid frame count")
    additions = end.get("metadata", {})
    for key in ("format_version", "channel_names", "face_geometry", "face_slots"):
        if key in additions and additions[key] != metadata.get(key):
            raise TakeError(f"the end marker changes {key}")
    return count, check_metadata({**metadata, **additions}, "end marker")


class ForwardOnly:
    """Drops the frames whose timestamp is not after every earlier one, over a take's pieces in
    order (read_chunks): call it on each piece; `dropped` counts what went.

    Takes written before the writer dropped such frames can hold them, and the bake needs
    timestamps that never go backwards."""

    def __init__(self) -> None:
        self.dropped = 0
        self._latest: int | None = None  # the latest timestamp of the pieces so far

    def __call__(self, take: Take) -> Take:
        stamps = take.timestamps_us
        if not len(stamps):
            return take
        latest = stamps[0] - 1 if self._latest is None else self._latest
        earlier_max = np.maximum.accumulate(np.concatenate([[latest], stamps]))
        self._latest = int(earlier_max[-1])
        keep = stamps > earlier_max[:-1]
        dropped = int(len(keep) - np.count_nonzero(keep))
        if not dropped:
            return take
        self.dropped += dropped
        arrays = {name: array[keep] for name, array in take.arrays().items() if name not in GEOMETRY}
        if has_geometry(take.metadata):
            arrays.update(landmarks=take.landmarks[keep], transforms=take.transforms[keep])
        else:
            arrays.update(no_geometry(len(arrays["timestamps_us"])))
        return Take(metadata=take.metadata, complete=take.complete, problem=take.problem, **arrays)


def forward_only(take: Take) -> tuple[Take, int]:
    """The take without the frames whose timestamp is not after every earlier one; how many went."""
    keep = ForwardOnly()
    return keep(take), keep.dropped
