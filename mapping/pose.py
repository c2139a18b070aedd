"""Head pose: screen landmarks -> metric 3D -> weighted Procrustes against the canonical face.

A faithful numpy port of MediaPipe's geometry pipeline (reference §A.5-A.6), vectorised
over frames. Metric space is MediaPipe's: right-handed, cm, camera at the origin looking
down -Z, +X right and +Y up on screen. The pose maps canonical (head) space to metric
space: metric = scale * rotation @ canonical + translation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .canonical import N_VERTICES, CanonicalFace
from .errors import PoseError

_TOO_COMPACT = 1e-3  # normalised units, MediaPipe's IsScreenLandmarkListTooCompact


@dataclass(frozen=True)
class PerspectiveCamera:
    """The virtual camera MediaPipe assumes; defaults are FaceLandmarker's environment."""

    vertical_fov_deg: float = 63.0
    near: float = 1.0
    far: float = 10000.0
    origin_top_left: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.vertical_fov_deg < 180.0:
            raise PoseError(f"camera field of view must be in (0, 180) degrees, got {self.vertical_fov_deg}")
        if not 0.0 < self.near < self.far:
            raise PoseError(f"camera planes need 0 < near < far, got {self.near}, {self.far}")

    def near_size(self, width: float, height: float) -> tuple[float, float]:
        """Width and height of the frustum at the near plane for an image of this size."""
        h = 2.0 * self.near * math.tan(0.5 * math.radians(self.vertical_fov_deg))
        return width * h / height, h


@dataclass
class HeadPose:
    """Pose of N frames; rows without a face are NaN."""

    rotation: np.ndarray  # (N, 3, 3) canonical -> metric
    translation: np.ndarray  # (N, 3) cm
    scale: np.ndarray  # (N,)
    metric_landmarks: np.ndarray  # (N, L, 3) cm, camera space
    head_landmarks: np.ndarray  # (N, L, 3) cm, canonical (head) space

    @property
    def present(self) -> np.ndarray:
        """(N,) True where a face was found."""
        return np.isfinite(self.scale)

    def matrices(self) -> np.ndarray:
        """(N, 4, 4) transforms like MediaPipe's facial_transformation_matrix."""
        n = len(self.scale)
        m = np.zeros((n, 4, 4))
        m[:, :3, :3] = self.rotation * self.scale[:, None, None]
        m[:, :3, 3] = self.translation
        m[:, 3, 3] = 1.0
        return m


def weighted_procrustes(src: np.ndarray, dst: np.ndarray, w: np.ndarray):
    """Fit dst ~ s R src + t with weights (src (K,3), dst (N,K,3), w (K,)); -> R, t, s."""
    total = w.sum()
    center = w @ src / total
    moments = (src - center) * w[:, None]
    design = np.einsum("nki,kj->nij", dst, moments)
    u, _, vt = np.linalg.svd(design)
    flip = np.linalg.det(u) * np.linalg.det(vt) < 0  # forbid reflections
    u[flip, :, 2] *= -1.0
    rot = u @ vt
    denom = np.sum(moments * src)
    scale = np.einsum("nij,nij->n", rot, design) / denom
    trans = np.einsum("k,nki->ni", w, dst) / total - scale[:, None] * (rot @ center)
    return rot, trans, scale


class PoseSolver:
    """Reusable solver: canonical face + camera; call solve() per frame or per take."""

    def __init__(self, face: CanonicalFace, camera: PerspectiveCamera | None = None) -> None:
        self.face = face
        self.camera = camera or PerspectiveCamera()
        self._ids = np.asarray(face.procrustes_ids)
        self._w = np.asarray(face.procrustes_weights, np.float64)
        self._src = np.asarray(face.vertices, np.float64)[self._ids]

    def _project(self, lm: np.ndarray, size: np.ndarray) -> np.ndarray:
        """Normalised landmarks -> near-plane coordinates (ProjectXY)."""
        width, height = self.camera.near_size(size[:, 0:1], size[:, 1:2])  # (N,1) each
        out = np.empty_like(lm)
        y = 1.0 - lm[..., 1] if self.camera.origin_top_left else lm[..., 1]
        out[..., 0] = (lm[..., 0] - 0.5) * width
        out[..., 1] = (y - 0.5) * height
        out[..., 2] = lm[..., 2] * width
        return out

    def _to_metric(self, proj: np.ndarray, depth: np.ndarray, scale: np.ndarray) -> np.ndarray:
        """MoveAndRescaleZ, UnprojectXY, ChangeHandedness."""
        near = self.camera.near
        z = (proj[..., 2] - depth[:, None] + near) / scale[:, None]
        out = np.empty_like(proj)
        out[..., 0] = proj[..., 0] * z / near
        out[..., 1] = proj[..., 1] * z / near
        out[..., 2] = -z
        return out

    def _scale(self, pts: np.ndarray) -> np.ndarray:
        return weighted_procrustes(self._src, pts, self._w)[2]

    def solve(self, landmarks: np.ndarray, image_size) -> HeadPose:
        """Pose of landmarks (N,L,3) or one frame (L,3), normalised, L >= 468; image_size px."""
        lm = np.asarray(landmarks, np.float64)
        lm = lm[None] if lm.ndim == 2 else lm  # one frame -> a take of one
        if lm.ndim != 3 or lm.shape[1] < N_VERTICES or lm.shape[2] != 3:
            raise PoseError(f"landmarks must be (N, >=468, 3), got {np.shape(landmarks)}")
        n = len(lm)
        size = np.broadcast_to(np.asarray(image_size, np.float64).reshape(-1, 2), (n, 2))
        if np.any(size <= 0):
            raise PoseError(f"image size must be positive, got {np.asarray(image_size).tolist()}")
        ok = self._valid(lm)
        pose = _nan_pose(n, lm.shape[1])
        if ok.any():
            self._solve_rows(lm[ok], size[ok], pose, ok)
        return pose

    @staticmethod
    def _valid(lm: np.ndarray) -> np.ndarray:
        finite = np.all(np.isfinite(lm[:, :N_VERTICES]), axis=(1, 2))
        xy = np.where(finite[:, None, None], lm[:, :N_VERTICES, :2], 0.0)
        spread = np.max(np.linalg.norm(xy - xy.mean(axis=1, keepdims=True), axis=2), axis=1)
        return finite & (spread > _TOO_COMPACT)

    def _solve_rows(self, lm, size, pose: HeadPose, ok: np.ndarray) -> None:
        proj = self._project(lm, size)
        depth = proj[:, :N_VERTICES, 2].mean(axis=1)
        basis = proj[:, self._ids]
        first = basis.copy()
        first[..., 2] *= -1.0
        scale1 = self._scale(first)
        scale2 = self._scale(self._to_metric(basis, depth, scale1))
        metric = self._to_metric(proj, depth, scale1 * scale2)
        rot, trans, scale = weighted_procrustes(self._src, metric[:, self._ids], self._w)
        head = np.einsum("nji,nkj->nki", rot, metric - trans[:, None]) / scale[:, None, None]
        pose.rotation[ok], pose.translation[ok], pose.scale[ok] = rot, trans, scale
        pose.metric_landmarks[ok], pose.head_landmarks[ok] = metric, head


def _nan_pose(n: int, n_landmarks: int) -> HeadPose:
    return HeadPose(np.full((n, 3, 3), np.nan), np.full((n, 3), np.nan), np.full(n, np.nan),
                    np.full((n, n_landmarks, 3), np.nan), np.full((n, n_landmarks, 3), np.nan))


def rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees of the rotation taking a to b, for stacks of 3x3 rotations."""
    rel = np.einsum("...ji,...jk->...ik", a, b)
    # atan2 of sine and cosine parts stays accurate for tiny angles, unlike arccos
    sin2 = np.stack([rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0],
                     rel[..., 1, 0] - rel[..., 0, 1]], axis=-1)
    cos2 = np.trace(rel, axis1=-2, axis2=-1) - 1.0
    return np.degrees(np.arctan2(np.linalg.norm(sin2, axis=-1), cos2))


def rotation_from_matrix(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split (N,4,4) similarity transforms into rotation (N,3,3), translation, scale."""
    m = np.asarray(matrix, np.float64)
    scale = np.linalg.norm(m[..., :3, 0], axis=-1)
    return m[..., :3, :3] / scale[..., None, None], m[..., :3, 3], scale
