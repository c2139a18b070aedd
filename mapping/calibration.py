"""Calibration: the user's neutral face and per-channel offset, range, gain and clamp.

Applied to a channel value v (NaN stays NaN):
    with a range (lo, hi):  out = gain * (v - lo) / (hi - lo)     (lo -> 0, hi -> gain)
    without:                out = gain * (v - offset)
    then clamped to `clamp` (either bound may be None).
The neutral head pose (camera space, as HeadPose gives it) is used by the channels stage:
head rotation/translation channels are measured relative to it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from .channels import CHANNEL_INDEX, CHANNEL_NAMES, HEAD_LOCATION, HEAD_ROTATION, N_CHANNELS, N_SHAPES, channel_kind
from .errors import CalibrationError
from .pose import HeadPose
from .reading import clip, number, parse_json, read_json_file

FORMAT = "face_mocap.calibration"
VERSION = 1


@dataclass
class ChannelCalibration:
    """How one channel is corrected; the defaults change nothing."""

    offset: float = 0.0
    gain: float = 1.0
    range: tuple[float, float] | None = None
    clamp: tuple[float | None, float | None] | None = None

    def is_default(self) -> bool:
        """True when this changes nothing."""
        return self == ChannelCalibration()


@dataclass
class Calibration:
    """Neutral pose + per-channel corrections; plain data, JSON round trip."""

    neutral_rotation: np.ndarray | None = None  # (3,3) camera space, canonical -> camera
    neutral_translation_cm: np.ndarray | None = None  # (3,)
    channels: dict[str, ChannelCalibration] = field(default_factory=dict)

    def channel(self, name: str) -> ChannelCalibration:
        """The calibration of one channel (created on first use)."""
        if name not in CHANNEL_INDEX:
            raise CalibrationError(f"unknown channel '{clip(str(name))}'")
        return self.channels.setdefault(name, ChannelCalibration())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-channel (origin, scale, low, high) so apply() is one vectorised expression."""
        origin, scale = np.zeros(N_CHANNELS), np.ones(N_CHANNELS)
        low, high = np.full(N_CHANNELS, -np.inf), np.full(N_CHANNELS, np.inf)
        for name, c in self.channels.items():
            i = CHANNEL_INDEX[name]
            if c.range is not None:
                origin[i], scale[i] = c.range[0], c.gain / (c.range[1] - c.range[0])
            else:
                origin[i], scale[i] = c.offset, c.gain
            if c.clamp is not None:
                low[i] = -np.inf if c.clamp[0] is None else c.clamp[0]
                high[i] = np.inf if c.clamp[1] is None else c.clamp[1]
        return origin, scale, low, high

    def apply(self, values: np.ndarray, arrays=None) -> np.ndarray:
        """Calibrated copy of (N, N_CHANNELS) or (N_CHANNELS,) raw values (arrays: from arrays())."""
        origin, scale, low, high = arrays or self.arrays()
        return np.clip((np.asarray(values, np.float64) - origin) * scale, low, high)

    def to_dict(self) -> dict:
        """JSON-ready dict; default channels are left out."""
        return {
            "format": FORMAT, "version": VERSION,
            "neutral_rotation": None if self.neutral_rotation is None else np.asarray(self.neutral_rotation).tolist(),
            "neutral_translation_cm": None if self.neutral_translation_cm is None
            else np.asarray(self.neutral_translation_cm).tolist(),
            "channels": {name: {"offset": c.offset, "gain": c.gain,
                                "range": None if c.range is None else list(c.range),
                                "clamp": None if c.clamp is None else list(c.clamp)}
                         for name, c in self.channels.items() if not c.is_default()},
        }

    def to_json(self) -> str:
        """Serialise to a JSON string."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        """Inverse of to_dict(); raises CalibrationError on anything malformed."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CalibrationError("not a Face Mocap calibration")
        if data.get("version") != VERSION:
            raise CalibrationError(f"calibration version {clip(repr(data.get('version')))} is not supported")
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
                cal.set(name, offset=c.get("offset", 0.0), gain=c.get("gain", 1.0),
                        range=c.get("range"), clamp=c.get("clamp"))
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
            range=..., clamp=...) -> ChannelCalibration:
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
        return c


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


def capture_neutral(pose: HeadPose, raw_channels: np.ndarray,
                    base: Calibration | None = None) -> Calibration:
    """Neutral from one frame or an average of frames (raw channels: computed with no neutral).

    Head pose becomes the neutral pose; shapes, gaze and jaw get offsets so that this
    face reads 0. Other settings of `base` (gain, range, clamp) are kept."""
    raw = np.asarray(raw_channels, np.float64).reshape(-1, N_CHANNELS)
    found = pose.present & np.all(np.isfinite(raw[:, :N_SHAPES]), axis=1)  # the ARKit shapes come first
    if not found.any():
        raise CalibrationError("no face in the neutral frames: look at the camera and try again")
    cal = Calibration.from_dict(base.to_dict()) if base is not None else Calibration()
    cal.neutral_rotation = _rotation(pose.rotation[found].mean(axis=0))
    cal.neutral_translation_cm = pose.translation[found].mean(axis=0)
    mean = np.nanmean(raw[found], axis=0)
    for i, name in enumerate(CHANNEL_NAMES):
        if name in HEAD_ROTATION + HEAD_LOCATION or not np.isfinite(mean[i]):
            continue
        c = cal.channel(name)
        c.offset = float(mean[i])
        if c.range is not None:  # keep the observed top, move the bottom to the new neutral
            c.range = (c.offset, c.range[1]) if c.range[1] > c.offset else None
    return cal


def observe_ranges(cal: Calibration, values: np.ndarray, names=None, percentile: float = 99.0) -> None:
    """Set shape-channel ranges from raw values seen (neutral offset .. high percentile)."""
    values = np.asarray(values, np.float64).reshape(-1, N_CHANNELS)
    for name in names or [n for n in CHANNEL_NAMES if channel_kind(n) == "shape"]:
        column = values[:, CHANNEL_INDEX[name]]
        column = column[np.isfinite(column)]
        if column.size == 0:
            continue
        has_neutral = name in cal.channels and cal.channels[name].offset != 0.0
        c = cal.channel(name)
        low = c.offset if has_neutral else float(column.min())
        high = float(np.percentile(column, percentile))
        if high > low + 1e-6:
            c.range = (low, high)
