"""ARKit shape keys for any head: the demo face's 52 expressions carried onto another mesh.

Pure numpy; ui/generate_shapes.py finds where MediaPipe's landmarks sit on the mesh and writes
the shape keys. The steps:

1. `fit_face`: a robust similarity fit (scale, rotation, translation) of the canonical face to the
   landmark points found on the mesh; points that disagree with it (rays that grazed a
   silhouette or went through an eye hole) are replaced by the fitted face.
2. `transfer_shapes`: the demo expressions are rebuilt on this head's own landmarks (brought into
   the canonical frame), so a blink closes this head's lid gap and the jaw turns about this
   head's lips; then each expression's landmark motion is spread to every vertex by Gaussian
   radial basis functions, separately above and below the mouth line and the lid lines (the
   jaw never drags the upper lip, a blink never drags the lower lid), fading out away from the face.
3. With a mirror map of the mesh, sided shapes are exact mirrors and centre shapes symmetric.

Units: canonical frame in cm (+X subject's left, +Y up, +Z out of the face); mesh in its own units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .canonical import N_VERTICES, CanonicalFace
from .demo_face import (EYE_CORNERS_L, EYE_LOWER_L, EYE_UPPER_L, JAW_FORWARD, JAW_HINGE, JAW_LEFT, JAW_OPEN_DEG,
                        _smoothstep, below_mouth_line, build_shape_offsets, jaw_open_motion, mirror_map)
from .errors import MappingError
from .lid_closure import close_lids
from .pose import weighted_procrustes

MIN_LANDMARKS = 60  # fewer points on the mesh than this: no face to fit
STRAY_CM = 0.5  # a point this close to the fit (canonical cm) is never a stray ray, however good the fit elsewhere
NEIGHBOURS = 3  # a centre's Gaussian reaches about as far as its third-nearest neighbour
CORRECTIONS = 5  # residual corrections: the lids' landmarks end within a few percent of their targets
FADE_START_CM, FADE_END_CM = 0.8, 2.5  # distance from the nearest landmark where motion fades to 0
EYE_LINE_BAND_CM = 0.08  # soft band around a lid line
MOUTH_CORNERS = (61, 291, 78, 308)
CHUNK = 4096  # vertices per block when evaluating the interpolation (bounds memory)


class FaceFitError(MappingError):
    """The landmarks found on a mesh do not make a face."""


@dataclass(frozen=True)
class FaceFit:
    """Where the canonical face sits on a mesh: mesh = scale * rotation @ canonical + translation."""

    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)
    scale: float  # mesh units per canonical cm
    points: np.ndarray  # (468, 3) landmark positions on the mesh (found or fitted)
    found: np.ndarray  # (468,) bool: the point came from the mesh, not from the fit

    def to_mesh(self, canonical: np.ndarray) -> np.ndarray:
        return self.scale * canonical @ self.rotation.T + self.translation

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        return (points - self.translation) @ self.rotation / self.scale

    def offsets_to_mesh(self, offsets: np.ndarray) -> np.ndarray:
        return self.scale * offsets @ self.rotation.T

    def offsets_to_canonical(self, offsets: np.ndarray) -> np.ndarray:
        return offsets @ self.rotation / self.scale


def fit_face(face: CanonicalFace, points: np.ndarray, ids: np.ndarray | None = None,
             rounds: int = 4) -> FaceFit:
    """Fit the canonical face to mesh points (NaN rows = landmark not on the mesh).

    `ids` names the canonical vertex of each point (default: 0..467). Points further from the fit
    than 2.5 times the median distance (and than STRAY_CM) are dropped, and the fit repeated: rays that
    grazed the silhouette or went through a hole; a head's own shape (wider eyes, fuller lips) stays."""
    canon = np.asarray(face.vertices, np.float64)
    points = np.asarray(points, np.float64)
    ids = np.arange(len(points)) if ids is None else np.asarray(ids, int)
    use = np.all(np.isfinite(points), axis=1)
    need = min(MIN_LANDMARKS, len(points))
    if use.sum() < max(need, 3):
        raise FaceFitError(f"only {int(use.sum())} face landmarks lie on the mesh (at least {need} needed)")
    for _ in range(rounds):
        rot, trans, scale = (a[0] for a in weighted_procrustes(canon[ids[use]], points[use][None],
                                                               np.ones(int(use.sum()))))
        if not scale > 0:
            raise FaceFitError("the landmarks found on the mesh do not span a face")
        fitted = float(scale) * canon[ids] @ rot.T + trans
        error = np.linalg.norm(points - fitted, axis=1)
        limit = max(2.5 * np.median(error[use]), STRAY_CM * float(scale))
        keep = use & (error <= limit)
        if keep.sum() < max(need, 3) or np.array_equal(keep, use):
            break
        use = keep
    full = float(scale) * canon @ rot.T + trans
    found = np.zeros(N_VERTICES, bool)
    if len(ids) == N_VERTICES and np.array_equal(ids, np.arange(N_VERTICES)):
        full[use] = points[use]
        found = use.copy()
    return FaceFit(rot, trans, float(scale), full, found)


def with_points(fit: FaceFit, points: np.ndarray) -> FaceFit:
    """The same fit with the landmark points replaced (e.g. fitted points snapped onto the surface)."""
    return replace(fit, points=np.asarray(points, np.float64))


def symmetric_landmarks(landmarks: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Landmarks (canonical frame) averaged with their mirror images across X = 0."""
    flip = np.array([-1.0, 1.0, 1.0])
    return 0.5 * (landmarks + landmarks[mirror] * flip)


def _lid_lower_weight(landmarks: np.ndarray, points: np.ndarray, upper, lower, corners) -> np.ndarray:
    """Soft weight (0..1) of each point belonging to the lower lid of one eye: below the line
    between its lids, within the eye's width, fading out a lid's height below the eye."""
    inner, outer = landmarks[list(corners)]
    mid = 0.5 * (landmarks[list(upper)] + landmarks[list(lower)])
    line = np.concatenate([inner[None], mid, outer[None]])
    order = np.argsort(line[:, 0])
    x0, x1 = line[order[0], 0], line[order[-1], 0]
    y = np.interp(points[:, 0], line[order, 0], line[order, 1])
    height = float(np.max(landmarks[list(upper), 1]) - np.min(landmarks[list(lower), 1]))
    below = _smoothstep(0.5 + (y - points[:, 1]) / (2.0 * EYE_LINE_BAND_CM))
    margin = 0.25 * (x1 - x0)
    across = _smoothstep((points[:, 0] - x0 + margin) / margin) * _smoothstep((x1 + margin - points[:, 0]) / margin)
    depth = _smoothstep((points[:, 1] - (y - 2.5 * height)) / max(height, 1e-6))
    return below * across * depth


def region_weights(landmarks: np.ndarray, points: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """(P, 3) partition of unity over the regions [upper face, lower lids, lower face]."""
    lower_face = below_mouth_line(landmarks, points)
    lids = np.zeros(len(points))
    for upper, lower, corners in ((EYE_UPPER_L, EYE_LOWER_L, EYE_CORNERS_L),
                                  tuple(tuple(int(mirror[i]) for i in ids)
                                        for ids in (EYE_UPPER_L, EYE_LOWER_L, EYE_CORNERS_L))):
        lids = np.maximum(lids, _lid_lower_weight(landmarks, points, upper, lower, corners))
    lids *= 1.0 - lower_face
    return np.stack([1.0 - lower_face - lids, lids, lower_face], axis=1)


def _landmark_regions(landmarks: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """(468, 3) bool: which regions' interpolation each landmark takes part in."""
    w = region_weights(landmarks, landmarks, mirror)
    member = w > 0.5
    member[list(MOUTH_CORNERS), 0] = member[list(MOUTH_CORNERS), 2] = True  # shared by both lips
    for corner in EYE_CORNERS_L + tuple(int(mirror[i]) for i in EYE_CORNERS_L):
        member[corner, :2] = True
    return member


class GaussianField:
    """Smooth interpolation of values at centres (cm): normalised Gaussian weights (each centre's
    width its distance to its NEIGHBOURS-th nearest neighbour, so sparse and dense parts of the face
    both stay smooth), with a few residual corrections so the values are nearly met at the centres.
    Bounded by construction: no ill-conditioned solve that could blow up between close landmarks."""

    def __init__(self, centres: np.ndarray, values: np.ndarray, corrections: int = CORRECTIONS) -> None:
        self.centres = centres
        d2 = _squared_distances(centres, centres)
        k = min(NEIGHBOURS, len(centres) - 1)
        self.inv_width2 = 1.0 / np.maximum(np.partition(d2, k, axis=1)[:, k], 1e-6)
        self.weights = values.copy()
        at_centres = self._basis(d2)
        for _ in range(corrections):
            self.weights += values - at_centres @ self.weights

    def _basis(self, d2: np.ndarray) -> np.ndarray:
        g = np.exp(-d2 * self.inv_width2[None, :]) + 1e-30
        return g / g.sum(axis=1, keepdims=True)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return self._basis(_squared_distances(points, self.centres)) @ self.weights


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = np.sum(a ** 2, axis=1)[:, None] + np.sum(b ** 2, axis=1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


def fade(landmarks: np.ndarray, points: np.ndarray) -> np.ndarray:
    """1 on the face, easing to 0 from FADE_START_CM to FADE_END_CM away from the nearest landmark."""
    nearest = np.sqrt(_squared_distances(points, landmarks).min(axis=1))
    return _smoothstep((FADE_END_CM - nearest) / (FADE_END_CM - FADE_START_CM))


def canonical_mirror(face: CanonicalFace) -> np.ndarray:
    """Each canonical landmark's mirror image."""
    return mirror_map(np.asarray(face.vertices, np.float64))


def landmark_shapes(face: CanonicalFace, landmarks: np.ndarray, mirror: np.ndarray) -> dict[str, np.ndarray]:
    """The 52 expressions as (468, 3) landmark offsets (cm), built on this head's landmarks."""
    head = replace(face, vertices=np.asarray(landmarks, np.float64))
    return build_shape_offsets(head, mirror)


def spread_to_vertices(landmarks: np.ndarray, offsets: dict[str, np.ndarray], vertices: np.ndarray,
                       mirror: np.ndarray) -> dict[str, np.ndarray]:
    """Interpolate landmark offsets (canonical frame) onto vertices (canonical frame), per region."""
    names = list(offsets)
    values = np.concatenate([offsets[n] for n in names], axis=1)  # (468, 3 * shapes)
    member = _landmark_regions(landmarks, mirror)
    fields = [GaussianField(landmarks[member[:, r]], values[member[:, r]]) for r in range(3)]
    out = np.zeros((len(vertices), values.shape[1]))
    for start in range(0, len(vertices), CHUNK):
        block = vertices[start:start + CHUNK]
        weights = region_weights(landmarks, block, mirror) * fade(landmarks, block)[:, None]
        for r, field in enumerate(fields):  # each region's field only where it has a say
            rows = np.flatnonzero(weights[:, r] > 0.0)
            if len(rows) == len(block):
                out[start:start + CHUNK] += weights[:, r:r + 1] * field(block)
            elif len(rows):
                out[start + rows] += weights[rows, r:r + 1] * field(block[rows])
    return {name: out[:, 3 * k:3 * k + 3] for k, name in enumerate(names)}


def symmetrize(shapes: dict[str, np.ndarray], mirror: np.ndarray, axis: int = 0) -> dict[str, np.ndarray]:
    """Make Left/Right pairs exact mirrors and centre shapes symmetric across the mesh's plane
    `axis` = 0 (mirror: each vertex's mirror image)."""
    flip = np.ones(3)
    flip[axis] = -1.0
    out = {}
    for name, d in shapes.items():
        if "Right" in name and name.replace("Right", "Left") in shapes:
            continue
        partner = name.replace("Left", "Right") if "Left" in name else name
        if partner != name and partner in shapes:
            left = 0.5 * (d + shapes[partner][mirror] * flip)
            out[name], out[partner] = left, left[mirror] * flip
        else:
            out[name] = 0.5 * (d + d[mirror] * flip)
    return {name: out[name] for name in shapes}


def transfer_shapes(face: CanonicalFace, fit: FaceFit, vertices: np.ndarray,
                    vertex_mirror: np.ndarray | None = None, mirror_axis: int = 0,
                    open_edges: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The 52 ARKit shapes as (N, 3) offsets in mesh units for the mesh `vertices` (N, 3).

    `vertex_mirror` (each vertex's mirror image across the mesh's plane `mirror_axis` = 0), when
    the mesh is symmetric, makes the result exactly symmetric. `open_edges` (bool per vertex: on
    an open edge) lets the blinks close the mesh's eye holes exactly (lid_closure.py)."""
    mirror = canonical_mirror(face)
    landmarks = fit.to_canonical(fit.points)
    if vertex_mirror is not None:
        landmarks = symmetric_landmarks(landmarks, mirror)
    offsets = landmark_shapes(face, landmarks, mirror)
    points = fit.to_canonical(np.asarray(vertices, np.float64))
    spread = spread_to_vertices(landmarks, offsets, points, mirror)
    if open_edges is not None:
        spread = close_lids(spread, points, np.asarray(open_edges, bool), landmarks, mirror)
    shapes = {name: fit.offsets_to_mesh(d) for name, d in spread.items()}
    if vertex_mirror is not None:
        shapes = symmetrize(shapes, vertex_mirror, mirror_axis)
    return shapes


def jaw_shapes(face: CanonicalFace, fit: FaceFit, vertices: np.ndarray, whole: bool = False) -> dict[str, np.ndarray]:
    """jawOpen, jawForward, jawLeft, jawRight for rigid parts inside the mouth (mesh units): the
    lower teeth (below the line between the lips) or, `whole`, all of it (a tongue) move as the
    demo face's jaw does; the upper teeth stay."""
    landmarks = fit.to_canonical(fit.points)
    points = fit.to_canonical(np.asarray(vertices, np.float64))
    moving = np.ones(len(points)) if whole else (below_mouth_line(landmarks, points) > 0.5).astype(float)
    flip = np.array([-1.0, 1.0, 1.0])
    canonical = {"jawOpen": jaw_open_motion(points, landmarks[list(JAW_HINGE)].mean(axis=0), JAW_OPEN_DEG),
                 "jawForward": np.tile(JAW_FORWARD, (len(points), 1)),
                 "jawLeft": np.tile(JAW_LEFT, (len(points), 1)),
                 "jawRight": np.tile(np.multiply(JAW_LEFT, flip), (len(points), 1))}
    return {name: fit.offsets_to_mesh(d * moving[:, None]) for name, d in canonical.items()}
