"""Keyframe arithmetic for baking, in plain numpy: resampling and key reduction (rotations: rotations.py).

No bpy here, so each piece is checked against mathutils or brute force in the tests.
"""

from __future__ import annotations

import numpy as np

# A take of exactly N/fps seconds gets N+1 keys despite rounding. Blender stores fps_base
# (and so the 23.98/29.97/59.94 presets' 1.001) as float32: a relative error of up to 2^-24
# each in fps and fps_base, so the tolerance grows with the frame count (2e-5 frames at 472
# frames, 0.03 at a day of 60 fps); 1e-4 frames more covers microsecond timestamps.
_EPS_FRAMES = 1e-4
_EPS_RELATIVE = 2.0 ** -22  # four float32 half-ulps: fps, fps_base and the division's rounding
_LONG_RUN = 4  # off-tolerance runs this long get their own key in the same pass (found by trying 2-8)


def frame_count(duration_s: float, fps: float) -> int:
    """Scene frames covered by a take of this length: one key per frame, both ends included."""
    frames = max(duration_s, 0.0) * fps
    return int(np.floor(frames + _EPS_FRAMES + frames * _EPS_RELATIVE)) + 1


class Resampler:
    """Values of a take at scene times 0, 1/fps, 2/fps... after its first timestamp."""

    def __init__(self, times_s: np.ndarray, fps: float, keep_peaks: bool = True) -> None:
        self.times = np.asarray(times_s, np.float64) - float(times_s[0])
        self.sample_times = np.arange(frame_count(self.times[-1], fps)) / fps
        self.frame_count = len(self.sample_times)
        self.fps, self.keep_peaks = fps, keep_peaks

    def __call__(self, values: np.ndarray) -> np.ndarray | None:
        """One value per scene frame, or None if all are NaN.

        NaN samples (no face) are bridged linearly from the neighbouring valid samples,
        and the ends hold the first/last valid value.
        """
        values = np.asarray(values, np.float64)
        valid = np.isfinite(values)
        if not valid.any():
            return None
        times, values = (self.times, values) if valid.all() else (self.times[valid], values[valid])
        out = np.interp(self.sample_times, times, values)
        return _keep_peaks(times, values, out, self.fps) if self.keep_peaks else out


PEAK_DEPARTURE = 0.05  # a peak the interpolation misses by more than this goes on its nearest frame


def _keep_peaks(times: np.ndarray, values: np.ndarray, out: np.ndarray, fps: float) -> np.ndarray:
    """Each local extremum of the take that the scene frames miss by more than PEAK_DEPARTURE,
    on its nearest scene frame (the largest one per frame).

    Linear interpolation at scene frames that fall between a one-frame blink and its
    neighbours keeps as little as half of it (a 30 fps take baked at 24 fps); moving the peak
    by under half a frame keeps all of it. Smooth curves, and frames that line up, stay exactly
    interpolated (their extremes depart far less)."""
    if len(values) < 3:
        return out
    mid, before, after = values[1:-1], values[:-2], values[2:]
    index = np.flatnonzero(((mid > before) & (mid >= after)) | ((mid < before) & (mid <= after))) + 1
    frames = np.clip(np.rint(times[index] * fps).astype(np.int64), 0, len(out) - 1)
    departure = np.abs(values[index] - out[frames])
    index, frames, departure = (a[departure > PEAK_DEPARTURE] for a in (index, frames, departure))
    order = np.lexsort((departure, frames))  # per frame, largest departure last
    last = order[np.r_[frames[order][1:] != frames[order][:-1], True]] if len(order) else order
    out = out.copy()
    out[frames[last]] = values[index[last]]
    return out


def reduce_keys(frames: np.ndarray, values: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of the keys to keep so that linear interpolation stays within tolerance.

    Ramer-Douglas-Peucker with vertical distance, run level by level: each pass keys the
    worst sample of every segment that is off by more than `tolerance`, so a pass is a
    few vectorised numpy calls. It also keys the worst sample of every long run of
    off samples: a long take of repeated motion would otherwise be split one bump per
    pass. The first and last keys are always kept.
    """
    frames = np.asarray(frames, np.float64)
    values = np.asarray(values, np.float64)
    n = len(values)
    if n <= 2 or tolerance <= 0.0:
        return np.arange(n)
    keep = np.zeros(n, bool)
    keep[[0, -1]] = True
    while True:
        kept = np.flatnonzero(keep)
        error = np.abs(values - np.interp(frames, frames[kept], values[kept]))
        off = np.flatnonzero(error > tolerance)  # never a kept key: those are exact
        if len(off) == 0:
            return kept
        segment = (np.cumsum(keep) - 1)[off]
        run = np.cumsum(np.diff(off, prepend=-2) > 1)
        long_run = np.bincount(run)[run] >= _LONG_RUN
        keep[_worst_per_group(off, segment, error)] = True
        keep[_worst_per_group(off[long_run], run[long_run], error)] = True


def _worst_per_group(indices: np.ndarray, groups: np.ndarray, error: np.ndarray) -> np.ndarray:
    """For each group label, the index (from `indices`) with the largest error."""
    order = np.lexsort((-error[indices], groups))
    _, first = np.unique(groups[order], return_index=True)
    return indices[order[first]]
