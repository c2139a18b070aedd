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


class _Unprojection:
    """What is needed to turn any screen landmark into metric space later (rows = frames)."""

    def __init__(self, landmarks, width, height, depth, total_scale, camera: PerspectiveCamera) -> None:
        self.landmarks, self.width, self.height = landmarks, width, height
        self.depth, self.total_scale, self.camera = depth, total_scale, camera

    def rows(self, index) -> "_Unprojection":
        return _Unprojection(self.landmarks[index], self.width[index], self.height[index],
                             self.depth[index], self.total_scale[index], self.camera)

    def metric(self, ids) -> np.ndarray:
        lm = np.asarray(self.landmarks if ids is None else self.landmarks[:, ids], np.float64)
        proj = _project(lm, self.width, self.height, self.camera.origin_top_left)
        return _to_metric(proj, self.depth, self.total_scale, self.camera.near)


class HeadPose:
    """Pose of N frames (NaN rows = no face); landmarks in metric or head space on demand."""

    def __init__(self, rotation: np.ndarray, translation: np.ndarray, scale: np.ndarray,
                 metric_landmarks: np.ndarray | None = None, source: _Unprojection | None = None) -> None:
        self.rotation = rotation  # (N, 3, 3) canonical -> metric
        self.translation = translation  # (N, 3) cm
        self.scale = scale  # (N,)
        self._metric_all = metric_landmarks  # (N, L, 3) cm, when given explicitly
        self._source = source
        self._head_all = None

    def __len__(self) -> int:
        return len(self.scale)

    @property
    def present(self) -> np.ndarray:
        """(N,) True where a face was found."""
        return np.isfinite(self.scale)

    def metric_points(self, ids=None) -> np.ndarray:
        """(N, K, 3) landmarks `ids` (all when None) in metric camera space, cm."""
        if self._metric_all is not None:
            return self._metric_all if ids is None else self._metric_all[:, ids]
        if self._source is None:
            return np.full((len(self), N_VERTICES if ids is None else len(ids), 3), np.nan)
        return self._source.metric(ids)

    def head_points(self, ids=None) -> np.ndarray:
        """(N, K, 3) landmarks `ids` in head (canonical) space, cm: inverse pose applied."""
        metric = self.metric_points(ids)
        return np.einsum("nji,nkj->nki", self.rotation, metric - self.translation[:, None]) / self.scale[:, None, None]

    @property
    def metric_landmarks(self) -> np.ndarray:
        """(N, L, 3) all landmarks in metric camera space, cm."""
        if self._metric_all is None:
            self._metric_all = self.metric_points()
        return self._metric_all

    @property
    def head_landmarks(self) -> np.ndarray:
        """(N, L, 3) all landmarks in head (canonical) space, cm."""
        if self._head_all is None:
            self._head_all = self.head_points()
        return self._head_all

    @property
    def landmark_count(self) -> int:
        """L, the number of landmarks per frame."""
        if self._metric_all is not None:
            return self._metric_all.shape[1]
        return self._source.landmarks.shape[1] if self._source is not None else N_VERTICES

    def rows(self, index) -> "HeadPose":
        """The pose of some frames (a slice, an index array or a mask)."""
        index = np.arange(len(self))[index]
        index = np.atleast_1d(index)
        metric = None if self._metric_all is None else self._metric_all[index]
        source = None if self._source is None or metric is not None else self._source.rows(index)
        return HeadPose(self.rotation[index], self.translation[index], self.scale[index], metric, source)

    @classmethod
    def concatenate(cls, poses: list["HeadPose"]) -> "HeadPose":
        """One pose of all frames of several poses."""
        return cls(*(np.concatenate([getattr(p, f) for p in poses]) for f in ("rotation", "translation", "scale")),
                   metric_landmarks=np.concatenate([p.metric_landmarks for p in poses]))

    @classmethod
    def empty(cls, n: int) -> "HeadPose":
        """n frames without a face."""
        return cls(np.full((n, 3, 3), np.nan), np.full((n, 3), np.nan), np.full(n, np.nan))

    def matrices(self) -> np.ndarray:
        """(N, 4, 4) transforms like MediaPipe's facial_transformation_matrix."""
        n = len(self.scale)
        m = np.zeros((n, 4, 4))
        m[:, :3, :3] = self.rotation * self.scale[:, None, None]
        m[:, :3, 3] = self.translation
        m[:, 3, 3] = 1.0
        return m


def _project(lm: np.ndarray, width: np.ndarray, height: np.ndarray, top_left: bool) -> np.ndarray:
    """Normalised landmarks -> near-plane coordinates (ProjectXY); width/height (N,) at near."""
    out = np.empty_like(lm)
    w, h = width[:, None], height[:, None]
    out[..., 0] = (lm[..., 0] - 0.5) * w
    out[..., 1] = (0.5 - lm[..., 1] if top_left else lm[..., 1] - 0.5) * h
    out[..., 2] = lm[..., 2] * w
    return out


def _to_metric(proj: np.ndarray, depth: np.ndarray, scale: np.ndarray, near: float) -> np.ndarray:
    """MoveAndRescaleZ, UnprojectXY, ChangeHandedness."""
    z = (proj[..., 2] - depth[:, None] + near) / scale[:, None]
    out = np.empty_like(proj)
    out[..., 0] = proj[..., 0] * z / near
    out[..., 1] = proj[..., 1] * z / near
    out[..., 2] = -z
    return out


class WeightedProcrustes:
    """Weighted orthogonal Procrustes with scale against fixed source points (reference §A.6).

    Everything that depends only on the source and the weights is computed once."""

    def __init__(self, src: np.ndarray, w: np.ndarray) -> None:
        self.total = float(w.sum())
        self.weights = w / self.total
        self.center = self.weights @ src
        self.moments = (src - self.center) * w[:, None]
        self.denom = float(np.sum(self.moments * src))

    def fit(self, dst: np.ndarray):
        """Fit dst (N,K,3) ~ s R src + t; -> R (N,3,3), t (N,3), s (N,)."""
        design = np.matmul(dst.transpose(0, 2, 1), self.moments)  # sum_k w_k dst_k (src_k - c)^T
        u, _, vt = np.linalg.svd(design)
        flip = np.linalg.det(design) < 0  # = det(U) det(V^T) < 0: forbid reflections
        if flip.any():
            u[flip, :, 2] *= -1.0
        rot = u @ vt
        scale = np.sum(rot * design, axis=(1, 2)) / self.denom
        trans = self.weights @ dst - scale[:, None] * (rot @ self.center)
        return rot, trans, scale


def weighted_procrustes(src: np.ndarray, dst: np.ndarray, w: np.ndarray):
    """Fit dst ~ s R src + t with weights (src (K,3), dst (N,K,3), w (K,)); -> R, t, s."""
    return WeightedProcrustes(src, w).fit(dst)


class PoseSolver:
    """Reusable solver: canonical face + camera; call solve() per frame or per take."""

    def __init__(self, face: CanonicalFace, camera: PerspectiveCamera | None = None) -> None:
        self.face = face
        self.camera = camera or PerspectiveCamera()
        self._ids = np.asarray(face.procrustes_ids)
        self._fit = WeightedProcrustes(np.asarray(face.vertices, np.float64)[self._ids],
                                       np.asarray(face.procrustes_weights, np.float64))

    def _scale(self, pts: np.ndarray) -> np.ndarray:
        return self._fit.fit(pts)[2]

    def solve(self, landmarks: np.ndarray, image_size) -> HeadPose:
        """Pose of landmarks (N,L,3) or one frame (L,3), normalised, L >= 468; image_size px."""
        lm = np.asarray(landmarks)
        lm = lm[None] if lm.ndim == 2 else lm  # one frame -> a take of one
        if lm.ndim != 3 or lm.shape[1] < N_VERTICES or lm.shape[2] != 3:
            raise PoseError(f"landmarks must be (N, >=468, 3), got {np.shape(landmarks)}")
        n = len(lm)
        size = np.broadcast_to(np.asarray(image_size, np.float64).reshape(-1, 2), (n, 2))
        if np.any(size <= 0):
            raise PoseError(f"image size must be positive, got {np.asarray(image_size).tolist()}")
        width, height = self.camera.near_size(size[:, 0], size[:, 1])
        height = np.full(n, height)
        basis = np.asarray(lm[:, self._ids], np.float64)
        ok = self._valid(lm, basis)
        rot, trans, scale = np.full((n, 3, 3), np.nan), np.full((n, 3), np.nan), np.full(n, np.nan)
        depth, total = np.full(n, np.nan), np.full(n, np.nan)
        if ok.any():
            r = ok if not ok.all() else slice(None)
            # mean z over the 468 mesh landmarks (MediaPipe drops the iris before this)
            depth[r] = lm[r, :N_VERTICES, 2].mean(axis=1, dtype=np.float64) * width[r]
            proj = _project(basis[r], width[r], height[r], self.camera.origin_top_left)
            first = proj.copy()
            first[..., 2] *= -1.0
            scale1 = self._scale(first)
            scale2 = self._scale(_to_metric(proj, depth[r], scale1, self.camera.near))
            total[r] = scale1 * scale2
            metric = _to_metric(proj, depth[r], total[r], self.camera.near)
            rot[r], trans[r], scale[r] = self._fit.fit(metric)
        source = _Unprojection(lm, width, height, depth, total, self.camera)
        return HeadPose(rot, trans, scale, source=source)

    @staticmethod
    def _valid(lm: np.ndarray, basis: np.ndarray) -> np.ndarray:
        """Frames with finite landmarks that are not collapsed to a point."""
        finite = np.isfinite(lm.reshape(len(lm), -1)).all(axis=1)
        # MediaPipe's IsScreenLandmarkListTooCompact, measured on the fitted points
        # (NaN compares False, so frames with missing landmarks fail here too)
        d = basis[..., :2] - basis[..., :2].mean(axis=1, keepdims=True)
        return finite & (np.max(np.sum(d * d, axis=2), axis=1) > _TOO_COMPACT ** 2)


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
