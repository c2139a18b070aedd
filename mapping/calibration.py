"""Calibration: the user's neutral face, range of motion and a response curve per channel.

Applied to a channel value v (NaN stays NaN), for each channel:
    shapes (0..1 scores):   x = (v - lo) / (hi - lo), held to [0, 1]
        lo = the neutral (range[0], else offset), hi = the channel's top (range[1], else
        its default top: 1, or 0.52 for eyeBlink). So a neutral calibration keeps the
        range: the neutral reads 0 and a full expression still reaches 1.
    other channels (radians, metres): with a range x = (v - lo) / (hi - lo), else
        x = v - offset (angles are offset, never rescaled by a neutral).
    then the response curve: y = x + curve * (s(x') - x') with x' = x held to [0, 1] and
        s the smoothstep 3x'^2 - 2x'^3 (curve 0 = linear, 1 = an S that holds both ends
        still: noise near neutral and near full stays put),
    out = gain * y, clamped to `clamp` (either bound may be None).
Defaults without any calibration: every channel passes unchanged except eyeBlinkLeft/Right,
whose MediaPipe scores sit at 0.1-0.24 with the eyes open and 0.52-0.9 shut (measured on
the shared footage, tests/mapping/test_blinks.py): range (0.2, 0.52) with the S curve, so a
shut eye reads >= 0.95 and an open one < 0.2.
The neutral head pose (camera space, as HeadPose gives it) is used by the channels stage:
head rotation/translation channels are measured relative to it. A take without landmarks
(a Live Link CSV) has no pose: its neutral head angles become offsets instead.
Version 1 files (offset-only neutral shapes) load and are converted to these rules.
The defaults are for MediaPipe's scores: a take without landmarks (ARKit's scores from a
Live Link CSV) is mapped with for_arkit_scores().
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace

import numpy as np

from .channels import CHANNEL_INDEX, CHANNEL_NAMES, HEAD_LOCATION, HEAD_ROTATION, N_CHANNELS, N_SHAPES, channel_kind
from .errors import CalibrationError
from .pose import HeadPose
from .reading import clip, number, parse_json, read_json_file

FORMAT = "face_mocap.calibration"
VERSION = 2
_SHAPE_TOP = 1.0
_MIN_SPAN = 0.05  # a neutral this close to a channel's top would make noise of every change


@dataclass
class ChannelCalibration:
    """How one channel is corrected; ChannelCalibration() changes nothing."""

    offset: float = 0.0
    gain: float = 1.0
    range: tuple[float, float] | None = None
    clamp: tuple[float | None, float | None] | None = None
    curve: float = 0.0  # 0 linear .. 1 smoothstep

    def is_default(self, name: str) -> bool:
        """True when this is the channel's default (left out of the JSON)."""
        return self == default_channel(name)


# Defaults that hold without calibration (see the module docstring for the measurements).
DEFAULT_CHANNELS: dict[str, ChannelCalibration] = {
    name: ChannelCalibration(range=(0.2, 0.52), curve=1.0) for name in ("eyeBlinkLeft", "eyeBlinkRight")}


def default_channel(name: str) -> ChannelCalibration:
    """A fresh copy of a channel's default calibration."""
    return replace(DEFAULT_CHANNELS.get(name, ChannelCalibration()))


def default_top(name: str) -> float:
    """The raw value a shape channel reads at its full expression by default."""
    default = DEFAULT_CHANNELS.get(name)
    return default.range[1] if default is not None and default.range is not None else _SHAPE_TOP


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3.0 - 2.0 * x)


@dataclass
class Calibration:
    """Neutral pose + per-channel corrections; plain data, JSON round trip."""

    neutral_rotation: np.ndarray | None = None  # (3,3) camera space, canonical -> camera
    neutral_translation_cm: np.ndarray | None = None  # (3,)
    channels: dict[str, ChannelCalibration] = field(default_factory=dict)  # those not at their default

    def channel(self, name: str) -> ChannelCalibration:
        """The calibration of one channel (its default, kept here once asked for)."""
        if name not in CHANNEL_INDEX:
            raise CalibrationError(f"unknown channel '{clip(str(name))}'")
        return self.channels.setdefault(name, default_channel(name))

    def get(self, name: str) -> ChannelCalibration:
        """The calibration in effect for one channel (read-only use: not stored)."""
        return self.channels[name] if name in self.channels else default_channel(name)

    def for_arkit_scores(self) -> "Calibration":
        """A copy without the MediaPipe defaults, for ARKit's own scores (a Live Link take):
        the iPhone's blinks already close (0.8-0.9), a channel left at its default passes unchanged."""
        cal = Calibration.from_dict(self.to_dict())
        for name in DEFAULT_CHANNELS:
            if name not in self.channels:
                cal.channels[name] = ChannelCalibration(range=(0.0, _SHAPE_TOP))  # as ARKit scores them
        return cal

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Per-channel (origin, inverse span, shape mask, curve, gain, low, high) for apply()."""
        origin, inv_span, curve, gain = (np.zeros(N_CHANNELS), np.ones(N_CHANNELS), np.zeros(N_CHANNELS),
                                         np.ones(N_CHANNELS))
        low, high = np.full(N_CHANNELS, -np.inf), np.full(N_CHANNELS, np.inf)
        is_shape = np.array([channel_kind(n) == "shape" for n in CHANNEL_NAMES])
        for i, name in enumerate(CHANNEL_NAMES):
            c = self.get(name)
            if c.range is not None:
                origin[i], inv_span[i] = c.range[0], 1.0 / (c.range[1] - c.range[0])
            elif is_shape[i]:
                top = default_top(name)
                origin[i], inv_span[i] = c.offset, 1.0 / max(top - c.offset, _MIN_SPAN)
            else:
                origin[i] = c.offset
            curve[i], gain[i] = c.curve, c.gain
            if c.clamp is not None:
                low[i] = -np.inf if c.clamp[0] is None else c.clamp[0]
                high[i] = np.inf if c.clamp[1] is None else c.clamp[1]
        return origin, inv_span, is_shape, curve, gain, low, high

    def apply(self, values: np.ndarray, arrays=None) -> np.ndarray:
        """Calibrated copy of (N, N_CHANNELS) or (N_CHANNELS,) raw values (arrays: from arrays())."""
        origin, inv_span, is_shape, curve, gain, low, high = arrays or self.arrays()
        x = (np.asarray(values, np.float64) - origin) * inv_span
        x = np.where(is_shape, np.clip(x, 0.0, 1.0), x)
        held = np.clip(x, 0.0, 1.0)
        y = x + curve * (_smoothstep(held) - held)
        return np.clip(gain * y, low, high)

    def to_dict(self) -> dict:
        """JSON-ready dict; channels at their default are left out."""
        return {
            "format": FORMAT, "version": VERSION,
            "neutral_rotation": None if self.neutral_rotation is None else np.asarray(self.neutral_rotation).tolist(),
            "neutral_translation_cm": None if self.neutral_translation_cm is None
            else np.asarray(self.neutral_translation_cm).tolist(),
            "channels": {name: {"offset": c.offset, "gain": c.gain,
                                "range": None if c.range is None else list(c.range),
                                "clamp": None if c.clamp is None else list(c.clamp), "curve": c.curve}
                         for name, c in self.channels.items() if not c.is_default(name)},
        }

    def to_json(self) -> str:
        """Serialise to a JSON string."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        """Inverse of to_dict() (version 1 is converted); raises CalibrationError on anything malformed."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CalibrationError("not a Face Mocap calibration")
        version = data.get("version")
        if version not in (1, VERSION):
            raise CalibrationError(f"calibration version {clip(repr(version))} is not supported")
        channels = data.get("channels", {})
        if not isinstance(channels, dict) or not all(isinstance(c, dict) for c in channels.values()):
            raise CalibrationError("malformed calibration: 'channels' must map channel names to objects")
        try:
            rot = data.get("neutral_rotation")
            rot = None if rot is None else _checked_rotation(_matrix(rot, (3, 3), "neutral rotation"))
            loc = data.get("neutral_translation_cm")
            loc = None if loc is None else _matrix(loc, (3,), "neutral translation")
            cal = cls(rot, loc)
            for name, c in channels.items():
                cal.set(name, offset=c.get("offset", 0.0), gain=c.get("gain", 1.0), range=c.get("range"),
                        clamp=c.get("clamp"), curve=c.get("curve", 0.0))
                if version == 1:
                    _upgrade_v1(cal, name)
        except (TypeError, ValueError, OverflowError) as exc:
            raise CalibrationError(f"malformed calibration: {clip(str(exc), 80)}") from None
        return cal

    @classmethod
    def from_json(cls, text: str) -> "Calibration":
        """Parse a JSON string written by to_json()."""
        return cls.from_dict(parse_json(text, "calibration", CalibrationError))

    def save(self, path: str | os.PathLike) -> None:
        """Write to a .json file."""
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Calibration":
        """Read a .json file written by save()."""
        return cls.from_dict(read_json_file(path, "calibration", CalibrationError))

    def set(self, name: str, *, offset: float | None = None, gain: float | None = None,
            range=..., clamp=..., curve: float | None = None) -> ChannelCalibration:
        """Set fields of one channel, checked (pass range=None / clamp=None to clear)."""
        if not isinstance(name, str):
            raise CalibrationError(f"channel name {clip(repr(name))} is not text")
        c = self.channel(name)
        if offset is not None:
            c.offset = _finite(offset, name, "offset")
        if gain is not None:
            c.gain = _finite(gain, name, "gain")
        if range is not ...:
            c.range = None if range is None else _pair(range, name, "range", strict=True)
        if clamp is not ...:
            c.clamp = None if clamp is None else _pair(clamp, name, "clamp", strict=False)
        if curve is not None:
            c.curve = _finite(curve, name, "curve")
            if not 0.0 <= c.curve <= 1.0:
                raise CalibrationError(f"curve of '{name}' must be between 0 (linear) and 1 (S curve)")
        return c


def _upgrade_v1(cal: Calibration, name: str) -> None:
    """Version 1 subtracted a shape's neutral and lost its range; now the range is kept.

    A v1 shape without a range gets (neutral, default top) and the default curve, so an old
    scene's blinks close and its smile still reaches 1."""
    c = cal.channels[name]
    if channel_kind(name) != "shape" or c.range is not None:
        return
    top, default = default_top(name), default_channel(name)
    if top - c.offset >= _MIN_SPAN:
        c.range = (c.offset, top)
    c.curve = default.curve
def _finite(value, name: str, what: str) -> float:
    if isinstance(value, (np.floating, np.integer)):  # set() from code, not JSON
        value = value.item()
    return number(value, f"{what} of '{name}'", CalibrationError)


def _matrix(value, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A finite float array of exactly `shape` from nested JSON lists."""
    size = "x".join(map(str, shape))
    try:
        array = np.array(value, np.float64)
    except (TypeError, ValueError, OverflowError, RecursionError):
        raise CalibrationError(f"{what} must be a finite {size} array of numbers") from None
    if array.shape != shape or not np.all(np.isfinite(array)):
        raise CalibrationError(f"{what} must be a finite {size} array of numbers")
    return array


def _pair(pair, name: str, what: str, strict: bool):
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise CalibrationError(f"{what} of '{name}' must be a pair [low, high]")
    lo, hi = pair
    lo = None if lo is None and not strict else _finite(lo, name, what)
    hi = None if hi is None and not strict else _finite(hi, name, what)
    if lo is not None and hi is not None and not (lo < hi if strict else lo <= hi):
        raise CalibrationError(f"{what} of '{name}' needs low < high, got {lo}, {hi}")
    return (lo, hi)


def _checked_rotation(m: np.ndarray) -> np.ndarray:
    """A stored rotation, kept bit for bit when it is one."""
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise CalibrationError("neutral rotation must be a finite 3x3 matrix")
    if np.abs(m.T @ m - np.eye(3)).max() > 1e-6 or np.linalg.det(m) < 0:
        raise CalibrationError("neutral rotation is not a rotation matrix")
    return m


def _rotation(m: np.ndarray) -> np.ndarray:
    """Nearest proper rotation to a 3x3 matrix (also averages rotations)."""
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise CalibrationError("neutral rotation must be a finite 3x3 matrix")
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt



def _neutral_top(c: ChannelCalibration, name: str, neutral: float) -> float | None:
    """The top a shape keeps when its neutral moves: its observed one, else its default, else 1."""
    for top in ((c.range[1] if c.range is not None else None), default_top(name), _SHAPE_TOP):
        if top is not None and top - neutral >= _MIN_SPAN:
            return top
    return None


def capture_neutral(pose: HeadPose | None, raw_channels: np.ndarray,
                    base: Calibration | None = None) -> Calibration:
    """Neutral from one frame or an average of frames (raw channels: computed with no neutral).

    With a pose (landmarks), the head pose becomes the neutral pose; without one (a Live
    Link take: scores and angles only) the head channels get offsets instead. Shapes keep
    their range (neutral -> 0, top -> 1); gaze and jaw get offsets. Other settings of
    `base` (gain, curve, clamp, observed tops) are kept."""
    raw = np.asarray(raw_channels, np.float64).reshape(-1, N_CHANNELS)
    found = np.all(np.isfinite(raw[:, :N_SHAPES]), axis=1)  # the ARKit shapes come first
    has_pose = pose is not None and bool(np.any(pose.present))
    if has_pose:
        found &= pose.present
    if not found.any():
        raise CalibrationError("no face in the neutral frames: look at the camera and try again")
    cal = Calibration.from_dict(base.to_dict()) if base is not None else Calibration()
    head = HEAD_ROTATION + HEAD_LOCATION
    if has_pose:
        cal.neutral_rotation = _rotation(pose.rotation[found].mean(axis=0))
        cal.neutral_translation_cm = pose.translation[found].mean(axis=0)
    rows = raw[found]
    finite = np.isfinite(rows)
    with np.errstate(invalid="ignore", divide="ignore"):  # a channel with no value (headX in a CSV) stays NaN
        mean = np.where(finite, rows, 0.0).sum(axis=0) / finite.sum(axis=0)
    for i, name in enumerate(CHANNEL_NAMES):
        if (has_pose and name in head) or not np.isfinite(mean[i]):
            continue
        c = cal.channel(name)
        c.offset = float(mean[i])
        if channel_kind(name) == "shape":
            top = _neutral_top(c, name, c.offset)
            c.range = None if top is None else (c.offset, top)
        elif c.range is not None:  # keep the observed top, move the bottom to the new neutral
            c.range = (c.offset, c.range[1]) if c.range[1] > c.offset else None
    return cal


def observe_ranges(cal: Calibration, values: np.ndarray, names=None,
                   percentile: float = 99.0) -> dict[str, tuple[float, float]]:
    """Range of motion: each shape's high percentile over the frames seen becomes its 1.

    The bottom stays the neutral (or the default). A channel that moved less than
    _MIN_SPAN above it keeps its top: amplifying a channel that never moved would only
    amplify noise. Returns {channel: (low, high)} of the ranges set."""
    values = np.asarray(values, np.float64).reshape(-1, N_CHANNELS)
    changed = {}
    for name in names or [n for n in CHANNEL_NAMES if channel_kind(n) == "shape"]:
        column = values[:, CHANNEL_INDEX[name]]
        column = column[np.isfinite(column)]
        if column.size == 0:
            continue
        current = cal.get(name)
        low = current.range[0] if current.range is not None else current.offset
        high = float(np.percentile(column, percentile))
        if high - low >= _MIN_SPAN:
            cal.channel(name).range = changed[name] = (low, high)
    return changed
