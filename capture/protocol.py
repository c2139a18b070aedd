"""Wire protocol v1 between the capture process and Blender (see PROTOCOL.md).

Standard library and numpy only: both sides import this module. Every malformed input
raises ProtocolError, and every size is checked before anything is allocated.
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
import struct
from dataclasses import dataclass, field
from typing import Iterator, Union

import numpy as np

PROTOCOL_VERSION = 1
MAGIC = b"FM"
NUM_LANDMARKS = 478
NUM_BLENDSHAPES = 52
MAX_FACES = 8
MAX_JSON_BYTES = 4096
MAX_PREVIEW_BYTES = 256 * 1024
MAX_IMAGE_SIDE = 16384
TOKEN_BYTES = 32  # hex characters of the per-session token
TOKEN_ENV = "FACE_MOCAP_TOKEN"  # how Blender hands the token to the capture process (never argv)

_HEADER = struct.Struct("<2sBBI")  # magic, version, message type, payload length
_FRAME_HEAD = struct.Struct("<qqHHB")  # index, timestamp_us, width, height, face count
_PREVIEW_HEAD = struct.Struct("<qHH")  # frame index, width, height
_FACE_FLOATS = NUM_LANDMARKS * 3 + NUM_BLENDSHAPES + 16
_FACE_BYTES = _FACE_FLOATS * 4
MAX_FRAME_BYTES = _FRAME_HEAD.size + MAX_FACES * _FACE_BYTES
MAX_PAYLOAD = max(MAX_FRAME_BYTES, _PREVIEW_HEAD.size + MAX_PREVIEW_BYTES, MAX_JSON_BYTES)
HEADER_SIZE = _HEADER.size

HELLO, FRAME, STATUS, ERROR, HEARTBEAT, PREVIEW, BYE, START = range(1, 9)
ACCEPTED = "accepted"  # Status.state of the server's answer to a good Hello
STANDBY = "standby"  # Status.state of a process started with --standby once its model is loaded
MAX_START_OPTIONS = 16  # entries of Start.landmarker

# The 52 scores in MediaPipe's order (index 0 is `_neutral`).
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft",
    "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft",
    "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)


class ProtocolError(Exception):
    """A message that is malformed, too large, of the wrong version or out of order."""


@dataclass
class Face:
    """One tracked face: normalized landmarks, blendshape scores, facial transform."""

    landmarks: np.ndarray  # float32 (478, 3): x, y in [0, 1] of the image, z relative depth
    blendshapes: np.ndarray  # float32 (52,), MediaPipe order (BLENDSHAPE_NAMES)
    transform: np.ndarray  # float32 (4, 4), row-major, canonical face -> camera space (cm)


@dataclass
class FaceFrame:
    """Everything known about one video frame; `faces` is empty when no face was found."""

    index: int
    timestamp_us: int
    width: int
    height: int
    faces: list[Face] = field(default_factory=list)


@dataclass
class Hello:
    """First message of a connection: the protocol version and the session token."""

    token: str
    version: int = PROTOCOL_VERSION
    client: str = "face_mocap.capture"


@dataclass
class Status:
    """Progress and state for the user: `state` is e.g. 'model_loaded', 'running', 'end_of_input'."""

    state: str
    fps: float = 0.0
    detail: str = ""


@dataclass
class Error:
    """A fatal problem in the capture process, in words a user can act on."""

    code: str
    message: str


@dataclass
class Heartbeat:
    """Sent at least once a second so a stalled process is noticed."""

    timestamp_us: int


@dataclass
class Preview:
    """A small JPEG of the camera image, a few per second."""

    frame_index: int
    width: int
    height: int
    jpeg: bytes


@dataclass
class Bye:
    """The capture process ends normally."""

    reason: str = ""


@dataclass
class Start:
    """Blender's go to a capture process in standby: the source to open and how to play it,
    and the landmarker options Blender expects it to hold (landmarker_key(); any difference is
    an Error, never a capture with other options). width/height/fps 0 = not requested."""

    source: str
    landmarker: dict[str, str]
    mirror: bool = False
    realtime: bool = False
    loop: bool = False
    preview_fps: float = 5.0
    width: int = 0
    height: int = 0
    fps: float = 0.0


def landmarker_key(model: str, running_mode: str, num_faces: int, min_face_detection_confidence: float,
                   min_face_presence_confidence: float, min_tracking_confidence: float) -> dict[str, str]:
    """The options a landmarker was made with, as both sides write them on the command line
    (numbers as %g), so a standby process and Blender compare like with like."""
    return {"model": model, "running_mode": running_mode, "num_faces": str(num_faces),
            "min_face_detection_confidence": f"{min_face_detection_confidence:g}",
            "min_face_presence_confidence": f"{min_face_presence_confidence:g}",
            "min_tracking_confidence": f"{min_tracking_confidence:g}"}


Message = Union[Hello, FaceFrame, Status, Error, Heartbeat, Preview, Bye, Start]


def _pack(kind: int, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"message of {len(payload)} bytes exceeds the {MAX_PAYLOAD}-byte limit")
    return _HEADER.pack(MAGIC, PROTOCOL_VERSION, kind, len(payload)) + payload


def _pack_json(kind: int, obj: dict) -> bytes:
    data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_JSON_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds the {MAX_JSON_BYTES}-byte limit")
    return _pack(kind, data)


def encode(message: Message) -> bytes:
    """Serialise one message, header included."""
    if isinstance(message, FaceFrame):
        return _pack(FRAME, _encode_frame(message))
    if isinstance(message, Preview):
        if len(message.jpeg) > MAX_PREVIEW_BYTES:
            raise ProtocolError(f"preview of {len(message.jpeg)} bytes exceeds {MAX_PREVIEW_BYTES}")
        head = _PREVIEW_HEAD.pack(message.frame_index, message.width, message.height)
        return _pack(PREVIEW, head + message.jpeg)
    if isinstance(message, Hello):
        return _pack_json(HELLO, {"version": message.version, "token": message.token, "client": message.client})
    if isinstance(message, Status):
        return _pack_json(STATUS, {"state": message.state, "fps": message.fps, "detail": message.detail})
    if isinstance(message, Error):
        return _pack_json(ERROR, {"code": message.code, "message": message.message})
    if isinstance(message, Heartbeat):
        return _pack_json(HEARTBEAT, {"timestamp_us": message.timestamp_us})
    if isinstance(message, Bye):
        return _pack_json(BYE, {"reason": message.reason})
    if isinstance(message, Start):
        return _pack_json(START, {name: getattr(message, name) for name in _START_FIELDS})
    raise TypeError(f"not a protocol message: {type(message).__name__}")


def _encode_frame(frame: FaceFrame) -> bytes:
    if len(frame.faces) > MAX_FACES:
        raise ProtocolError(f"{len(frame.faces)} faces exceed the limit of {MAX_FACES}")
    parts = [_FRAME_HEAD.pack(frame.index, frame.timestamp_us, frame.width, frame.height, len(frame.faces))]
    for face in frame.faces:
        floats = np.concatenate([
            np.asarray(face.landmarks, dtype="<f4").reshape(NUM_LANDMARKS * 3),
            np.asarray(face.blendshapes, dtype="<f4").reshape(NUM_BLENDSHAPES),
            np.asarray(face.transform, dtype="<f4").reshape(16),
        ])
        parts.append(floats.tobytes())
    return b"".join(parts)


def decode_header(header: bytes) -> tuple[int, int]:
    """Check a message header; return (message type, payload length)."""
    if len(header) != HEADER_SIZE:
        raise ProtocolError(f"truncated header: {len(header)} of {HEADER_SIZE} bytes")
    magic, version, kind, length = _HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError("not a Face Mocap message (bad magic bytes)")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version} is not supported (this side speaks {PROTOCOL_VERSION})")
    if not HELLO <= kind <= START:
        raise ProtocolError(f"unknown message type {kind}")
    limit = _payload_limit(kind)
    if length > limit:
        raise ProtocolError(f"message of {length} bytes exceeds the {limit}-byte limit")
    return kind, length


def _payload_limit(kind: int) -> int:
    if kind == FRAME:
        return MAX_FRAME_BYTES
    if kind == PREVIEW:
        return _PREVIEW_HEAD.size + MAX_PREVIEW_BYTES
    return MAX_JSON_BYTES


def decode_payload(kind: int, payload: bytes) -> Message:
    """Turn a checked payload into a message object."""
    if kind == FRAME:
        return _decode_frame(payload)
    if kind == PREVIEW:
        return _decode_preview(payload)
    obj = _decode_json(payload)
    if kind == HELLO:
        return Hello(token=_field(obj, "token", str), version=_field(obj, "version", int),
                     client=_field(obj, "client", str))
    if kind == STATUS:
        fps = _field(obj, "fps", (int, float))
        if not math.isfinite(fps):
            raise ProtocolError("status fps is not a finite number")
        return Status(state=_field(obj, "state", str), fps=float(fps), detail=_field(obj, "detail", str))
    if kind == ERROR:
        return Error(code=_field(obj, "code", str), message=_field(obj, "message", str))
    if kind == HEARTBEAT:
        return Heartbeat(timestamp_us=_field(obj, "timestamp_us", int))
    if kind == BYE:
        return Bye(reason=_field(obj, "reason", str))
    if kind == START:
        return _decode_start(obj)
    raise ProtocolError(f"unknown message type {kind}")


def _decode_json(payload: bytes) -> dict:
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed message body: {exc.__class__.__name__}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("malformed message body: expected an object")
    return obj


def _field(obj: dict, name: str, kind: type | tuple[type, ...]):
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ProtocolError(f"message field '{name}' is missing or has the wrong type")
    return value


_START_FIELDS = {"source": str, "landmarker": dict, "mirror": bool, "realtime": bool, "loop": bool,
                 "preview_fps": (int, float), "width": int, "height": int, "fps": (int, float)}


def _decode_start(obj: dict) -> Start:
    values = {}
    for name, kind in _START_FIELDS.items():
        value = obj.get(name)
        if kind is bool and not isinstance(value, bool):
            raise ProtocolError(f"message field '{name}' is missing or has the wrong type")
        values[name] = value if kind is bool else _field(obj, name, kind)
        if kind in (int, (int, float)) and not (math.isfinite(value) and 0 <= value <= MAX_IMAGE_SIDE):
            raise ProtocolError(f"start field '{name}' is out of range")
    options = values["landmarker"]
    if len(options) > MAX_START_OPTIONS or not all(isinstance(v, str) for v in options.values()):
        raise ProtocolError("start field 'landmarker' must map at most 16 names to strings")
    return Start(**values)


def _decode_frame(payload: bytes) -> FaceFrame:
    if len(payload) < _FRAME_HEAD.size:
        raise ProtocolError("truncated frame message")
    index, timestamp_us, width, height, count = _FRAME_HEAD.unpack_from(payload)
    if count > MAX_FACES:
        raise ProtocolError(f"frame claims {count} faces (limit {MAX_FACES})")
    if len(payload) != _FRAME_HEAD.size + count * _FACE_BYTES:
        raise ProtocolError(f"frame message has {len(payload)} bytes, expected {_FRAME_HEAD.size + count * _FACE_BYTES}")
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise ProtocolError(f"frame image size {width}x{height} is out of range")
    floats = np.frombuffer(payload, dtype="<f4", offset=_FRAME_HEAD.size).reshape(count, _FACE_FLOATS)
    if not np.isfinite(floats).all():
        raise ProtocolError("frame contains values that are not finite numbers")
    faces = []
    for row in floats.astype(np.float32):
        lm_end = NUM_LANDMARKS * 3
        faces.append(Face(
            landmarks=row[:lm_end].reshape(NUM_LANDMARKS, 3),
            blendshapes=row[lm_end:lm_end + NUM_BLENDSHAPES],
            transform=row[lm_end + NUM_BLENDSHAPES:].reshape(4, 4),
        ))
    return FaceFrame(index=index, timestamp_us=timestamp_us, width=width, height=height, faces=faces)


def _decode_preview(payload: bytes) -> Preview:
    if len(payload) < _PREVIEW_HEAD.size + 4:
        raise ProtocolError("truncated preview message")
    frame_index, width, height = _PREVIEW_HEAD.unpack_from(payload)
    jpeg = bytes(payload[_PREVIEW_HEAD.size:])
    if not jpeg.startswith(b"\xff\xd8"):
        raise ProtocolError("preview image is not a JPEG")
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise ProtocolError(f"preview size {width}x{height} is out of range")
    return Preview(frame_index=frame_index, width=width, height=height, jpeg=jpeg)


class Decoder:
    """Incremental decoder for a byte stream: feed() bytes, get whole messages back."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending: tuple[int, int] | None = None

    def feed(self, data: bytes) -> Iterator[Message]:
        """Add received bytes; yield every message they complete."""
        self._buffer += data
        while True:
            if self._pending is None:
                if len(self._buffer) < HEADER_SIZE:
                    return
                self._pending = decode_header(bytes(self._buffer[:HEADER_SIZE]))
                del self._buffer[:HEADER_SIZE]
            kind, length = self._pending
            if len(self._buffer) < length:
                return
            payload = bytes(self._buffer[:length])
            del self._buffer[:length]
            self._pending = None
            yield decode_payload(kind, payload)

    @property
    def buffered(self) -> int:
        """Bytes received that do not yet make a whole message."""
        return len(self._buffer)


def decode_all(data: bytes) -> list[Message]:
    """Decode a complete byte string of messages; trailing partial bytes are an error."""
    decoder = Decoder()
    messages = list(decoder.feed(data))
    if decoder.buffered or decoder._pending is not None:
        raise ProtocolError("stream ends in the middle of a message")
    return messages


def read_message(stream) -> Message | None:
    """Read one message from a binary file-like object (a socket's makefile('rb')).

    Returns None at a clean end of stream (EOF before a header)."""
    header = stream.read(HEADER_SIZE)
    if not header:
        return None
    kind, length = decode_header(header)
    payload = stream.read(length) if length else b""
    if len(payload) != length:
        raise ProtocolError(f"connection closed in the middle of a message ({len(payload)} of {length} bytes)")
    return decode_payload(kind, payload)


def new_token() -> str:
    """A fresh random session token (hex) for the server to hand to the capture process."""
    return secrets.token_hex(TOKEN_BYTES // 2)


def answer_hello(message: Message, token: str) -> Union[Status, Error]:
    """Server side of the handshake: the reply to a connection's first message.

    Status(ACCEPTED) means go on; an Error is sent back and the connection closed."""
    if not isinstance(message, Hello):
        return Error(code="protocol", message="the first message must be Hello")
    if message.version != PROTOCOL_VERSION:
        return Error(code="version", message=f"protocol version {message.version} is not supported "
                                             f"(Blender speaks {PROTOCOL_VERSION})")
    if not hmac.compare_digest(message.token.encode("utf-8"), token.encode("utf-8")):
        return Error(code="unauthorized", message="wrong session token")
    return Status(state=ACCEPTED)
