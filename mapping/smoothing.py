"""Smoothing: One Euro filters for live use, zero-phase filtering for baking a whole take.

Live: LiveSmoother.step(t, values) filters every channel with a One Euro filter
(Casiez et al. 2012) driven by the real time step. The head rotation and each eye's gaze
are filtered as quaternions (slerp toward the new sample, speed = angular velocity), so
they never suffer Euler wrap-around or axis cross-talk. Parameters are per channel kind:
shapes (0..1 scores), rotations (radians), locations (metres).
Offline: zero_phase() runs a Butterworth filter forwards and backwards (scipy filtfilt):
no lag at all, which a live filter cannot do.
NaN ("no value") passes through; after a gap longer than `reset_after_s` a channel
starts afresh instead of sliding from a stale value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.signal import butter, filtfilt

from .channels import CHANNEL_INDEX, CHANNEL_NAMES, EYE_LEFT, EYE_RIGHT, HEAD_ROTATION, channel_kind
from .errors import MappingError

KINDS = ("shape", "rotation", "location")
# Euler channel triples filtered as quaternions (Blender XYZ order; None = held at 0)
ROTATION_GROUPS: tuple[tuple[str | None, ...], ...] = (
    HEAD_ROTATION, (EYE_LEFT[0], None, EYE_LEFT[1]), (EYE_RIGHT[0], None, EYE_RIGHT[1]))


@dataclass(frozen=True)
class OneEuro:
    """One Euro parameters: min_cutoff (Hz), beta (per unit/s of speed), d_cutoff (Hz)."""

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0


@dataclass(frozen=True)
class SmoothingSettings:
    """Live One Euro parameters and offline cutoffs (Hz) per channel kind; None = no smoothing."""

    live: dict = field(default_factory=dict)  # kind -> OneEuro | None
    offline_hz: dict = field(default_factory=dict)  # kind -> float | None
    reset_after_s: float = 0.5

    def with_kind(self, kind: str, live: OneEuro | None = None, offline_hz: float | None = None) -> "SmoothingSettings":
        """Copy with one kind's parameters replaced (raw parameter access for the UI)."""
        if kind not in KINDS:
            raise MappingError(f"unknown channel kind '{kind}' (one of {', '.join(KINDS)})")
        return replace(self, live={**self.live, kind: live}, offline_hz={**self.offline_hz, kind: offline_hz})


def _preset(shape, rotation, location, offline) -> SmoothingSettings:
    return SmoothingSettings(live={"shape": shape, "rotation": rotation, "location": location},
                             offline_hz=dict(zip(KINDS, offline)))


# Tuned on the real clips (see tests/mapping/test_smoothing.py): blinks are fast, so shapes
# get a high beta; head rotation gets a low still-cutoff for jitter and a beta for no lag.
PRESETS: dict[str, SmoothingSettings] = {
    "off": _preset(None, None, None, (None, None, None)),
    "light": _preset(OneEuro(3.0, 40.0), OneEuro(1.0, 2.0), OneEuro(1.0, 20.0), (12.0, 6.0, 6.0)),
    "medium": _preset(OneEuro(2.0, 30.0), OneEuro(0.5, 2.0), OneEuro(0.5, 10.0), (10.0, 4.0, 4.0)),
    "strong": _preset(OneEuro(1.0, 20.0), OneEuro(0.2, 1.0), OneEuro(0.2, 5.0), (7.0, 2.0, 2.0)),
}


def preset(name: str) -> SmoothingSettings:
    """Settings of a named preset: off, light, medium or strong."""
    try:
        return PRESETS[name]
    except KeyError:
        raise MappingError(f"unknown smoothing preset '{name}' (one of {', '.join(PRESETS)})") from None


def _alpha(cutoff, dt):
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


# --- quaternions (w, x, y, z), Blender XYZ Euler -------------------------------------------

def quat_from_euler(e: np.ndarray) -> np.ndarray:
    """(...,3) XYZ Euler -> (...,4) unit quaternions (R = Rz Ry Rx)."""
    cx, cy, cz = (np.cos(e[..., i] / 2) for i in range(3))
    sx, sy, sz = (np.sin(e[..., i] / 2) for i in range(3))
    return np.stack([cx * cy * cz + sx * sy * sz, sx * cy * cz - cx * sy * sz,
                     cx * sy * cz + sx * cy * sz, cx * cy * sz - sx * sy * cz], axis=-1)


def euler_from_quat(q: np.ndarray) -> np.ndarray:
    """(...,4) unit quaternions -> (...,3) XYZ Euler."""
    w, x, y, z = (q[..., i] for i in range(4))
    ex = np.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    ey = np.arcsin(np.clip(2 * (w * y - z * x), -1.0, 1.0))
    ez = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.stack([ex, ey, ez], axis=-1)


def _nlerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Shortest-path blend of unit quaternions by t; slerp's direction, cheap (t is small)."""
    b = np.where(np.sum(a * b, axis=-1, keepdims=True) < 0, -b, b)
    out = a + t[..., None] * (b - a)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 2.0 * np.arccos(np.clip(np.abs(np.sum(a * b, axis=-1)), 0.0, 1.0))


class LiveSmoother:
    """Stateful per-frame smoothing of the full channel vector; one instance per stream."""

    def __init__(self, settings: SmoothingSettings | str = "medium") -> None:
        self.settings = preset(settings) if isinstance(settings, str) else settings
        self._groups = [[CHANNEL_INDEX[n] if n else -1 for n in g] for g in ROTATION_GROUPS]
        grouped = {i for g in self._groups for i in g if i >= 0}
        self._scalar = np.array([i for i in range(len(CHANNEL_NAMES)) if i not in grouped])
        params = [self.settings.live.get(channel_kind(CHANNEL_NAMES[i])) for i in self._scalar]
        self._on = np.array([p is not None for p in params])
        self._min = np.array([p.min_cutoff if p else 1.0 for p in params])
        self._beta = np.array([p.beta if p else 0.0 for p in params])
        self._dcut = np.array([p.d_cutoff if p else 1.0 for p in params])
        self._rot = self.settings.live.get("rotation")
        self.reset()

    def reset(self) -> None:
        """Forget the past (e.g. after calibrating or changing settings)."""
        n = len(self._scalar)
        self._x = np.full(n, np.nan)
        self._dx = np.zeros(n)
        self._t = np.full(n, -np.inf)
        self._q = [None] * len(self._groups)
        self._dq = [0.0] * len(self._groups)
        self._tq = [-math.inf] * len(self._groups)

    def step(self, t: float, values: np.ndarray) -> np.ndarray:
        """Smooth one frame of channel values taken at time t (seconds); returns a new array."""
        values = np.asarray(values, np.float64)
        out = values.copy()
        out[self._scalar] = self._step_scalars(t, values[self._scalar])
        if self._rot is not None:
            for g, idx in enumerate(self._groups):
                self._step_rotation(g, idx, t, values, out)
        return out

    def _step_scalars(self, t: float, x: np.ndarray) -> np.ndarray:
        finite = np.isfinite(x)
        dt = t - self._t
        fresh = finite & (~np.isfinite(self._x) | (dt > self.settings.reset_after_s) | ~self._on)
        live = finite & ~fresh & (dt > 0)
        if live.any():
            d = dt[live]
            dx = (x[live] - self._x[live]) / d
            a_d = _alpha(self._dcut[live], d)
            edx = a_d * dx + (1 - a_d) * self._dx[live]
            a = _alpha(self._min[live] + self._beta[live] * np.abs(edx), d)
            self._x[live] = a * x[live] + (1 - a) * self._x[live]
            self._dx[live] = edx
        self._x[fresh] = x[fresh]
        self._dx[fresh] = 0.0
        self._t[finite] = t
        return np.where(finite, self._x, np.nan)

    def _step_rotation(self, g: int, idx: list[int], t: float, values: np.ndarray, out: np.ndarray) -> None:
        used = [i for i in idx if i >= 0]
        euler = np.array([values[i] if i >= 0 else 0.0 for i in idx])
        if not np.all(np.isfinite(values[used])):
            return  # no value: leave NaN, keep the state for when the face comes back
        q = quat_from_euler(euler)
        dt = t - self._tq[g]
        if self._q[g] is None or dt > self.settings.reset_after_s:
            self._q[g], self._dq[g] = q, 0.0
        elif dt > 0:
            p = self._rot
            speed = _angle_between(self._q[g], q) / dt
            a_d = _alpha(p.d_cutoff, dt)
            self._dq[g] = a_d * speed + (1 - a_d) * self._dq[g]
            a = _alpha(p.min_cutoff + p.beta * self._dq[g], dt)
            self._q[g] = _nlerp(self._q[g], q, np.asarray(a))
        self._tq[g] = t
        smoothed = euler_from_quat(self._q[g])
        for k, i in enumerate(idx):
            if i >= 0:
                out[i] = smoothed[k]


def smooth_live(timestamps_s: np.ndarray, values: np.ndarray,
                settings: SmoothingSettings | str = "medium") -> np.ndarray:
    """Run a fresh LiveSmoother over a whole take (what the viewer saw live)."""
    smoother = LiveSmoother(settings)
    return np.stack([smoother.step(float(t), v) for t, v in zip(timestamps_s, values)])


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _filtfilt_runs(x: np.ndarray, b, a) -> np.ndarray:
    """Zero-phase filter each finite run of rows of x (N,K); short runs stay raw."""
    out = x.copy()
    finite = np.all(np.isfinite(x), axis=1)
    pad = 3 * max(len(a), len(b))
    for start, stop in _runs(finite):
        if stop - start > pad:
            out[start:stop] = filtfilt(b, a, x[start:stop], axis=0, padlen=pad, padtype="odd")
    return out


def zero_phase(timestamps_s: np.ndarray, values: np.ndarray,
               settings: SmoothingSettings | str = "medium", order: int = 2) -> np.ndarray:
    """Offline zero-phase smoothing of a whole take (N, N_CHANNELS); rotations as quaternions."""
    settings = preset(settings) if isinstance(settings, str) else settings
    values = np.asarray(values, np.float64)
    out = values.copy()
    dt = np.diff(np.asarray(timestamps_s, np.float64))
    if len(values) < 2 or not np.any(dt > 0):
        return out
    rate = 1.0 / float(np.median(dt[dt > 0]))

    def design(hz):
        return butter(order, min(hz / (rate / 2.0), 0.99)) if hz else None

    rot_filter = design(settings.offline_hz.get("rotation"))
    grouped: set[int] = set()
    for names in ROTATION_GROUPS:
        idx = [CHANNEL_INDEX[n] if n else -1 for n in names]
        grouped.update(i for i in idx if i >= 0)
        if rot_filter is None:
            continue
        euler = np.stack([values[:, i] if i >= 0 else np.zeros(len(values)) for i in idx], axis=1)
        q = quat_from_euler(euler)
        # one hemisphere along the take, so the components are continuous
        flip = np.cumprod(np.where(np.sum(q[1:] * q[:-1], axis=1) < 0, -1.0, 1.0))
        q[1:] *= np.nan_to_num(flip, nan=1.0)[:, None]
        q = _filtfilt_runs(q, *rot_filter)
        e = euler_from_quat(q / np.linalg.norm(q, axis=1, keepdims=True))
        for k, i in enumerate(idx):
            if i >= 0:
                out[:, i] = e[:, k]
    for kind in ("shape", "location"):
        coeffs = design(settings.offline_hz.get(kind))
        cols = [i for i, n in enumerate(CHANNEL_NAMES) if channel_kind(n) == kind and i not in grouped]
        if coeffs is not None and cols:
            for i in cols:  # per channel: a missing eye or shape must not blank the others
                out[:, i] = _filtfilt_runs(values[:, i:i + 1], *coeffs)[:, 0]
    jaw = [i for i, n in enumerate(CHANNEL_NAMES) if channel_kind(n) == "rotation" and i not in grouped]
    if rot_filter is not None:
        for i in jaw:
            out[:, i] = _filtfilt_runs(values[:, i:i + 1], *rot_filter)[:, 0]
    return out
