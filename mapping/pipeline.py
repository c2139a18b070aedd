"""The mapping pipeline: pose -> channels -> calibrate -> smooth -> retarget.

Each stage is a small function with a fixed contract (what it reads, what it may change);
LivePipeline chains them per frame with stateful smoothing, map_take() chains them over a
whole take for baking. Neither touches bpy: applying values to a rig is the ui's job.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..capture.protocol import NUM_BLENDSHAPES, NUM_LANDMARKS, FaceFrame
from ..capture.takes import Take, has_geometry
from .calibration import Calibration, capture_neutral, observe_ranges
from .canonical import CanonicalFace
from .channels import N_CHANNELS, N_SHAPES, compute_channels, merge_channels
from .errors import MappingError
from .pose import HeadPose, PerspectiveCamera, PoseSolver
from .retarget import MappingTable, Target
from .smoothing import LiveSmoother, SmoothingSettings, preset, smooth_live, zero_phase


MAX_RANGE_FRAMES = 36_000  # ten minutes at 60 fps: a range-of-motion pass is far shorter

# --- stages ------------------------------------------------------------------------------

def pose_stage(solver: PoseSolver, landmarks: np.ndarray, image_size) -> HeadPose:
    """Stage 1. Reads landmarks (N,478,3) and the image size; no state; NaN rows = no face."""
    return solver.solve(landmarks, image_size)


def channel_stage(pose: HeadPose, blendshapes: np.ndarray, face: CanonicalFace,
                  calibration: Calibration | None = None, extra_names=(), extra_values=None) -> np.ndarray:
    """Stage 2. Raw channels (N, N_CHANNELS); reads only the calibration's neutral pose.

    Extra named values (e.g. a Live Link take's head angles) fill channels by name."""
    cal = calibration or Calibration()
    raw = compute_channels(pose, blendshapes, face, cal.neutral_rotation, cal.neutral_translation_cm)
    if extra_values is not None and len(extra_names):
        raw = merge_channels(raw, extra_names, extra_values)
    return raw


def calibrate_stage(raw: np.ndarray, calibration: Calibration | None, arrays=None) -> np.ndarray:
    """Stage 3. Neutral, range, response curve, gain, clamp per channel; a new array, no state.

    None = raw values (a CSV export without calibration); Calibration() holds the defaults
    (eyeBlink's response) that live capture and bakes use without a calibration.
    `arrays` = calibration.arrays(), precomputed by callers that run every frame."""
    return raw.copy() if calibration is None else calibration.apply(raw, arrays)


def smooth_stage(smoother: LiveSmoother, t: float, values: np.ndarray) -> np.ndarray:
    """Stage 4 (live). Changes only the smoother's own state; returns a new array."""
    return smoother.step(t, values)


def retarget_stage(table: MappingTable, values: np.ndarray) -> tuple[list[Target], np.ndarray]:
    """Stage 5. (targets, (N, T) values); reads the table only. NaN = leave the target alone."""
    return table.evaluate_array(values)


# --- live --------------------------------------------------------------------------------

@dataclass
class FrameResult:
    """What one live frame produced: channel values and target values (NaN = no value)."""

    timestamp_s: float
    face_found: bool
    channels: np.ndarray  # (N_CHANNELS,) calibrated and smoothed
    targets: list[Target]
    values: np.ndarray  # (T,) aligned with targets
    raw: np.ndarray | None = None  # (N_CHANNELS,) before calibration and smoothing (the range panel)

    def as_dict(self) -> dict[Target, float]:
        """{target: value}."""
        return dict(zip(self.targets, self.values.tolist()))


class LivePipeline:
    """Per-frame mapping for live capture; keep one per stream (it holds smoothing state)."""

    def __init__(self, face: CanonicalFace, table: MappingTable, calibration: Calibration | None = None,
                 smoothing: SmoothingSettings | str = "medium", camera: PerspectiveCamera | None = None,
                 recent_s: float = 2.0) -> None:
        self.face = face
        self.solver = PoseSolver(face, camera)
        self.table = table
        self.calibration = calibration or Calibration()
        self._cal_arrays = self.calibration.arrays()
        self.smoother = LiveSmoother(smoothing)
        self._recent: collections.deque = collections.deque()
        self._recent_s = recent_s
        self._range_rows: list[np.ndarray] | None = None  # raw channels while measuring the range of motion

    def set_smoothing(self, smoothing: SmoothingSettings | str) -> None:
        """Change smoothing (restarts the filters)."""
        self.smoother = LiveSmoother(smoothing)

    def set_calibration(self, calibration: Calibration) -> None:
        """Use a calibration (also after editing one in place): restarts the filters."""
        self.calibration = calibration
        self._cal_arrays = calibration.arrays()
        self.smoother.reset()

    def process(self, frame: FaceFrame) -> FrameResult:
        """Map one FaceFrame from the capture process (its first face)."""
        t = frame.timestamp_us / 1e6
        if not frame.faces:
            return self.process_arrays(t, None, None, (frame.width, frame.height))
        face = frame.faces[0]
        return self.process_arrays(t, face.landmarks, face.blendshapes, (frame.width, frame.height))

    def process_arrays(self, t: float, landmarks, blendshapes, image_size) -> FrameResult:
        """Map one frame given as arrays (landmarks (478,3), blendshapes (52,)); None = no face."""
        if landmarks is None:
            landmarks = np.full((NUM_LANDMARKS, 3), np.nan)
            blendshapes = np.full(NUM_BLENDSHAPES, np.nan)
        pose = pose_stage(self.solver, landmarks, image_size)
        raw = channel_stage(pose, blendshapes, self.face, self.calibration)
        found = bool(pose.present[0])
        if found:
            self._remember(t, pose, np.asarray(blendshapes, np.float64))
            if self._range_rows is not None and len(self._range_rows) < MAX_RANGE_FRAMES:
                self._range_rows.append(raw[0])
        values = smooth_stage(self.smoother, t, calibrate_stage(raw, self.calibration, self._cal_arrays)[0])
        targets, out = retarget_stage(self.table, values)
        return FrameResult(t, found, values, targets, out[0], raw[0])

    def _remember(self, t: float, pose: HeadPose, blendshapes: np.ndarray) -> None:
        self._recent.append((t, pose, blendshapes))
        while self._recent and self._recent[0][0] < t - self._recent_s:
            self._recent.popleft()

    def calibrate_recent(self, seconds: float = 0.5) -> Calibration:
        """Neutral from the faces of the last `seconds` (keeps gains, ranges, clamps) and use it."""
        if not self._recent:
            raise MappingError("no face seen yet: look at the camera with a neutral face and try again")
        last = self._recent[-1][0]
        items = [(p, b) for t, p, b in self._recent if t >= last - seconds]
        pose = HeadPose.concatenate([p for p, _ in items])
        # channels without any neutral: capture_neutral measures offsets from these
        raw = compute_channels(pose, np.stack([b for _, b in items]), self.face)
        self.set_calibration(capture_neutral(pose, raw, self.calibration))
        return self.calibration

    @property
    def measuring_range(self) -> bool:
        """True between start_range() and finish_range()."""
        return self._range_rows is not None

    def start_range(self) -> None:
        """Start collecting faces for a range-of-motion calibration (the performer's extremes)."""
        self._range_rows = []

    def finish_range(self) -> tuple[Calibration, dict[str, tuple[float, float]]]:
        """Each shape's observed maximum since start_range() maps to 1; use it. (calibration, ranges set)"""
        rows, self._range_rows = self._range_rows, None
        if not rows:
            raise MappingError("no face seen while measuring the range: make your extremes facing the camera")
        cal = Calibration.from_dict(self.calibration.to_dict())
        changed = observe_ranges(cal, np.stack(rows))
        self.set_calibration(cal)
        return cal, changed


# --- offline -----------------------------------------------------------------------------

def has_landmarks(take: Take) -> bool:
    """True for a take tracked by MediaPipe; False for scores and angles only (a Live Link CSV)."""
    # a take without face geometry (Live Link CSV) has read-only broadcast NaN landmarks:
    # indexing them would allocate N x 478 x 3 floats for nothing
    return (has_geometry(take.metadata) and take.frame_count > 0
            and bool(np.isfinite(take.landmarks[take.face_found]).any()))


def take_calibration(take: Take, calibration: Calibration | None) -> Calibration:
    """The calibration to map a take with: the defaults are MediaPipe's, not ARKit's."""
    return _calibration_for(calibration, has_landmarks(take))


def _calibration_for(calibration: Calibration | None, landmarks: bool) -> Calibration:
    calibration = calibration or Calibration()
    return calibration if landmarks else calibration.for_arkit_scores()


def take_pose(take: Take, face: CanonicalFace | None = None,
              camera: PerspectiveCamera | None = None) -> HeadPose | None:
    """Head pose of every frame of a take, or None when it has no landmarks (a Live Link CSV)."""
    if not has_landmarks(take):
        return None
    if face is None:
        raise MappingError("this take has landmarks: pass face=load_canonical_face(model_path)")
    size = take.image_size
    if not all(size):
        raise MappingError("the take does not record its image size, so head pose cannot be computed")
    return PoseSolver(face, camera).solve(take.landmarks, size)


def take_channels(take: Take, face: CanonicalFace | None = None, calibration: Calibration | None = None,
                  camera: PerspectiveCamera | None = None, pose: HeadPose | None = None) -> np.ndarray:
    """Raw channels (N, N_CHANNELS) of a take: pose from landmarks when it has them."""
    if pose is None:
        pose = take_pose(take, face, camera)
    if pose is None:  # e.g. a Live Link CSV: scores and angles only
        pose = HeadPose.empty(take.frame_count)
    blend = np.where(take.face_found[:, None], take.blendshapes, np.nan)
    raw = channel_stage(pose, blend, face, calibration, take.channel_names, take.channels)
    raw[~take.face_found] = np.nan  # a frame recorded without a face has no value at all
    return raw


def neutral_from_take(take: Take, face: CanonicalFace | None = None, base: Calibration | None = None,
                      camera: PerspectiveCamera | None = None) -> Calibration:
    """Calibrate Neutral from a take's frames (read just the frames wanted): with landmarks
    the head pose becomes the neutral; without (a Live Link CSV) its channels give offsets."""
    pose = take_pose(take, face, camera)
    raw = take_channels(take, face, None, camera, pose)  # no neutral: offsets are measured from these
    return capture_neutral(pose, raw, take_calibration(take, base))


def range_from_take(take: Take, face: CanonicalFace | None = None, base: Calibration | None = None,
                    camera: PerspectiveCamera | None = None) -> tuple[Calibration, dict[str, tuple[float, float]]]:
    """Range of motion from a stretch of a take (read just those frames): each shape's observed
    maximum maps to 1, the neutral stays. (calibration, {channel: (low, high)} set)"""
    raw = take_channels(take, face, None, camera)
    if not np.isfinite(raw[:, :N_SHAPES]).any():
        raise MappingError("no face in these frames of the take: pick frames where the performer makes their extremes")
    cal = take_calibration(take, base)
    if cal is base:
        cal = Calibration.from_dict(base.to_dict())
    return cal, observe_ranges(cal, raw)


def map_take(take: Take, table: MappingTable, calibration: Calibration | None = None,
             smoothing: SmoothingSettings | str = "medium", *, face: CanonicalFace | None = None,
             camera: PerspectiveCamera | None = None, zero_phase_smoothing: bool = True
             ) -> dict[Target, np.ndarray]:
    """Bake a whole take: {target: (N,) values, NaN where there is no value}."""
    return map_take_chunks([take], table, calibration, smoothing, face=face, camera=camera,
                           zero_phase_smoothing=zero_phase_smoothing)[1]


def map_take_chunks(chunks: Iterable[Take], table: MappingTable, calibration: Calibration | None = None,
                    smoothing: SmoothingSettings | str = "medium", *, face: CanonicalFace | None = None,
                    camera: PerspectiveCamera | None = None, zero_phase_smoothing: bool = True,
                    frame_count: int | None = None) -> tuple[np.ndarray, dict[Target, np.ndarray]]:
    """map_take over a take given in pieces, in order (capture.takes.read_chunks):
    (times in seconds, {target: (N,) values}).

    Pose and channels are per frame, so each piece is reduced to its 63 raw channels as it
    comes and then dropped: memory holds one piece's landmarks, never the take's. Smoothing
    runs on the whole channel arrays, so the values are map_take's exactly. `frame_count`
    (the take's, from its headers): the channels go straight into one array made for them."""
    targets = retarget_stage(table, np.empty((0, N_CHANNELS)))[0]
    stamps, frames, landmarks = _raw_channels(chunks, face, calibration, camera, frame_count,
                                              width=max(N_CHANNELS, len(targets)))
    values = frames[:, :N_CHANNELS]  # the channels; each frame's row has room for its mapped values
    times = stamps / 1e6
    # the defaults, as live capture uses them, MediaPipe's or (no landmarks) ARKit's
    cal = _calibration_for(calibration, landmarks)
    _by_rows(lambda rows: calibrate_stage(rows, cal), values, out=values)  # in place: no second copy
    settings = preset(smoothing) if isinstance(smoothing, str) else smoothing
    if zero_phase_smoothing:
        values = zero_phase(times, values, settings, in_place=True)
    elif len(values):
        values = frames = smooth_live(times, values, settings)
    # each block of frames is mapped from its channels, then written over them: no second take-long array
    fits = len(targets) <= frames.shape[1]
    out = frames[:, :len(targets)] if fits else np.empty((len(values), len(targets)))
    _by_rows(lambda rows: retarget_stage(table, rows)[1], values, out=out)
    return times, {t: out[:, i] for i, t in enumerate(targets)}


def _raw_channels(chunks: Iterable[Take], face: CanonicalFace | None, calibration: Calibration | None,
                  camera: PerspectiveCamera | None, frame_count: int | None, width: int = N_CHANNELS
                  ) -> tuple[np.ndarray, np.ndarray, bool]:
    """(timestamps_us, (N, >= N_CHANNELS) float64 with the raw channels first, any landmarks).

    The first `frame_count` frames go into one array of `width` columns allocated once; frames
    beyond it (all of them without a count) are kept piece by piece and joined at the end
    (N_CHANNELS columns), and a take given as one piece keeps its own channels (no copy)."""
    values = np.empty((frame_count or 0, width))
    stamps = np.empty(len(values), np.int64)
    more, row, landmarks = [], 0, False
    for take in chunks:
        # the neutral pose is all the raw channels read from the calibration
        raw = take_channels(take, face, calibration, camera)
        fits = min(len(raw), len(values) - row)
        values[row:row + fits, :N_CHANNELS], stamps[row:row + fits] = raw[:fits], take.timestamps_us[:fits]
        row += fits
        if fits < len(raw):
            more.append((take.timestamps_us[fits:], raw[fits:]))
        landmarks = landmarks or has_landmarks(take)
    take = raw = None  # the last piece's landmarks go before any join
    if len(more) == 1 and not row:
        return *more[0], landmarks
    values, stamps = values[:row], stamps[:row]
    if more:
        stamps = np.concatenate([stamps, *(piece for piece, _ in more)])
        values = np.concatenate([values[:, :N_CHANNELS], *(piece for _, piece in more)])
    return stamps, values, landmarks


_BLOCK_ROWS = 1024  # per-frame stages run on this many frames at a time: their temporaries stay small


def _by_rows(stage, values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out[rows] = stage(values[rows]) for blocks of rows (a stage that maps each frame on its own)."""
    for start in range(0, len(values), _BLOCK_ROWS):
        out[start:start + _BLOCK_ROWS] = stage(values[start:start + _BLOCK_ROWS])
    return out
