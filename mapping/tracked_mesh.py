"""Tracked face mesh: the take's metric landmarks resampled to scene frames, and a PC2 point cache.

Pure numpy. "head" space holds the expression only (the canonical frame, cm: the mesh can
ride on a head bone and drive a high-resolution head through Surface Deform); "camera"
space keeps the head motion too (MediaPipe's metric camera space, cm).
PC2 (Blender's Mesh Cache modifier reads it): 'POINTCACHE2\\0', int32 version 1, int32
point count, float32 start frame, float32 sample rate (frames), int32 sample count,
then float32 x, y, z for every point of every sample.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from ..capture.takes import Take, has_geometry
from .canonical import N_VERTICES, CanonicalFace
from .errors import MappingError
from .keyframes import Resampler
from .pose import PoseSolver

SPACES = ("head", "camera")
PC2_MAGIC = b"POINTCACHE2\0"


def take_landmarks_cm(take: Take, face: CanonicalFace, space: str = "head") -> np.ndarray:
    """(N, 468, 3) landmarks in cm per take frame, NaN where no face was found."""
    if space not in SPACES:
        raise MappingError(f"unknown space '{space}': use one of {', '.join(SPACES)}")
    if take.frame_count == 0:
        raise MappingError("the take has no frames")
    if not has_geometry(take.metadata):
        raise MappingError("the take has no face landmarks (it was imported from a Live Link CSV): "
                           "a tracked mesh needs a take captured with Face Mocap")
    pose = PoseSolver(face).solve(take.landmarks[:, :N_VERTICES], take.image_size)
    points = pose.head_landmarks if space == "head" else pose.metric_landmarks
    return np.where(take.face_found[:, None, None], points[:, :N_VERTICES], np.nan)


def resample_to_frames(times_s: np.ndarray, points: np.ndarray, fps: float) -> np.ndarray:
    """(M, V, 3) points at scene frames 0..M-1 (time 0 = first take frame), linear in time.

    Frames without a face are filled from the nearest frames that have one, so the mesh
    holds still through a lost face instead of collapsing.
    """
    if not np.all(np.isfinite(points), axis=(1, 2)).any():
        raise MappingError("no frame of the take has a face: nothing to bake")
    # the bake's own frames and gap filling; no peak keeping: it would move single coordinates
    resample = Resampler(times_s, fps, keep_peaks=False)
    flat = np.asarray(points, np.float64).reshape(len(points), -1)
    out = np.column_stack([resample(flat[:, k]) for k in range(flat.shape[1])])
    return out.reshape(resample.frame_count, -1, 3)


def write_pc2(path: str | os.PathLike, samples: np.ndarray, start_frame: float = 1.0,
              sample_rate: float = 1.0) -> Path:
    """Write (M, V, 3) points as a PC2 point cache, atomically; return the path."""
    samples = np.ascontiguousarray(samples, dtype="<f4")
    if samples.ndim != 3 or samples.shape[2] != 3 or not np.isfinite(samples).all():
        raise MappingError("point cache samples must be finite (frames, points, 3)")
    path = Path(path)
    header = PC2_MAGIC + struct.pack("<iiffi", 1, samples.shape[1], start_frame, sample_rate, samples.shape[0])
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(header + samples.tobytes())
    os.replace(partial, path)
    return path


def read_pc2(path: str | os.PathLike) -> tuple[np.ndarray, float, float]:
    """(samples (M, V, 3), start frame, sample rate) of a PC2 file."""
    data = Path(path).read_bytes()
    if data[:12] != PC2_MAGIC or len(data) < 32:
        raise MappingError(f"{path} is not a PC2 point cache")
    _version, points, start, rate, count = struct.unpack("<iiffi", data[12:32])
    body = np.frombuffer(data, "<f4", offset=32)
    if body.size != points * count * 3:
        raise MappingError(f"{path} is truncated ({body.size} floats, expected {points * count * 3})")
    return body.reshape(count, points, 3), start, rate
