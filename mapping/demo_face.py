"""The demo head's geometry: 52 ARKit shape keys and rig points built on MediaPipe's canonical face.

Pure numpy; ui/demo_head.py turns the result into Blender data. Everything here is in the
canonical frame (cm; +X subject's left, +Y up, +Z out of the face). Each shape moves the
landmarks of its facial region (lids, brows, lips, jaw, cheeks, nose) and spreads that
motion to the skin around with a smooth falloff; Right shapes are exact mirrors of Left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .canonical import CanonicalFace
from .channels import ARKIT_NAMES

# MediaPipe face mesh landmark regions, subject's left side (+X); right = mirror.
EYE_UPPER_L = (398, 384, 385, 386, 387, 388, 466)
EYE_LOWER_L = (382, 381, 380, 374, 373, 390, 249)
EYE_CORNERS_L = (362, 263)  # inner, outer
EYE_LOWER_RING_L = (359, 255, 339, 254, 253, 252, 256, 341, 463)
BROW_L = (276, 283, 282, 295, 300, 293, 334, 296, 336, 285)
BROW_INNER_L = (336, 296, 285, 295)
BROW_OUTER_L = (300, 293, 276, 283)
LIPS_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_LOWER_OUTER = (146, 91, 181, 84, 17, 314, 405, 321, 375)
LIPS_UPPER_INNER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LIPS_LOWER_INNER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
MOUTH_CORNER_L, MOUTH_CORNER_INNER_L = 291, 308
CHEEK_PUFF_L = (425, 427, 411, 436, 432, 434, 416)  # beside the mouth, where air puffs the cheek out
CHEEK_UPPER_L = (346, 347, 348, 349, 330, 280)
NOSE_WING_L = (358, 327, 294, 279, 429)
JAW_HINGE = (234, 454)  # beside the ears (as mapping/channels.py's jawAngle)
CHIN = 152

JAW_OPEN_DEG = 22.0  # a wide-open mouth; shape key value 1.0
JAW_FORWARD = (0.0, 0.0, 0.6)  # cm, jawForward at 1.0
JAW_LEFT = (0.7, 0.0, 0.0)  # cm, jawLeft at 1.0 (jawRight: mirrored)


@dataclass(frozen=True)
class DemoRigPoints:
    """Joint positions of the demo armature, canonical frame, cm."""

    neck: np.ndarray
    head: np.ndarray
    head_top: np.ndarray
    jaw_hinge: np.ndarray
    chin: np.ndarray
    eye_left: np.ndarray
    eye_right: np.ndarray
    eye_radius: float


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def mirror_map(vertices: np.ndarray) -> np.ndarray:
    """Index of each vertex's mirror image across the X = 0 plane."""
    mirrored = vertices * np.array([-1.0, 1.0, 1.0])
    d = np.linalg.norm(vertices[None, :, :] - mirrored[:, None, :], axis=2)
    return d.argmin(axis=1)


def mirror_offsets(offsets: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """The right-side shape from a left-side one (and vice versa)."""
    return offsets[mirror] * np.array([-1.0, 1.0, 1.0])


def below_mouth_line(landmarks: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Soft weight (0..1) of each point belonging to the lower lip/jaw: below the line between the lips.

    `landmarks` are the 468 face points (canonical frame); the split is hard between the lips and
    softer towards the cheeks, so the jaw never drags the upper lip."""
    upper, lower = landmarks[list(LIPS_UPPER_INNER)], landmarks[list(LIPS_LOWER_INNER)]
    mid = 0.5 * (upper + lower)
    corners = landmarks[[78, 308]]
    xs = np.concatenate([[-20.0], corners[:1, 0], mid[:, 0], corners[1:, 0], [20.0]])
    ys = np.concatenate([[corners[0, 1]], corners[:1, 1], mid[:, 1], corners[1:, 1], [corners[1, 1]]])
    order = np.argsort(xs)
    line = np.interp(points[:, 0], xs[order], ys[order])
    below = line - points[:, 1]
    band = 0.05 + 0.8 * np.clip(np.abs(points[:, 0]) - 2.3, 0.0, None)
    return _smoothstep(0.5 + below / (2.0 * band))


def jaw_open_motion(points: np.ndarray, hinge: np.ndarray, degrees: float) -> np.ndarray:
    """Offsets of points turned about the jaw hinge's X axis (positive: the mouth opens)."""
    a = np.radians(degrees)
    rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rel = points - hinge
    return rel @ rot.T - rel


def _mirror_ids(ids, mirror: np.ndarray) -> tuple[int, ...]:
    return tuple(int(mirror[i]) for i in ids)


class _Builder:
    """Displacement fields on one canonical mesh."""

    def __init__(self, face: CanonicalFace, mirror: np.ndarray | None = None) -> None:
        self.v = np.asarray(face.vertices, np.float64)
        self.n = len(self.v)
        self.mirror = mirror_map(self.v) if mirror is None else mirror
        self.normals = _vertex_normals(self.v, face.triangles)
        self.below_mouth = below_mouth_line(self.v, self.v)
        self.below_mouth[list(LIPS_UPPER_INNER) + list(LIPS_UPPER_OUTER)] = 0.0
        self.below_mouth[list(LIPS_LOWER_INNER) + list(LIPS_LOWER_OUTER)] = 1.0

    def spread(self, ids, moves, radius: float, anchors=()) -> np.ndarray:
        """Move vertices `ids` by `moves` (k,3) exactly; the skin around follows within `radius` cm.

        `anchors` are vertices that must stay put (e.g. the lower lid when the upper one closes).
        """
        ids = np.asarray(ids, int)
        moves = np.broadcast_to(np.asarray(moves, np.float64), (len(ids), 3))
        anchors = np.asarray([a for a in anchors if a not in set(ids.tolist())], int)
        points = np.concatenate([self.v[ids], self.v[anchors]])
        values = np.concatenate([moves, np.zeros((len(anchors), 3))])
        dist = np.linalg.norm(self.v[:, None, :] - points[None, :, :], axis=2)
        sigma = max(radius / 3.0, 0.3)
        g = np.exp(-(dist / sigma) ** 2) + 1e-12
        field = (g @ values) / g.sum(axis=1, keepdims=True)
        nearest = dist[:, :len(ids)].min(axis=1)
        field *= _smoothstep(1.0 - nearest / radius)[:, None]
        field[anchors] = 0.0
        field[ids] = moves
        return field

    def jaw_rotation(self, degrees: float) -> np.ndarray:
        """The lower face rotated about the jaw hinge (positive: mouth opens)."""
        return jaw_open_motion(self.v, self.v[list(JAW_HINGE)].mean(axis=0), degrees) * self.below_mouth[:, None]

    def lower_face(self, move) -> np.ndarray:
        """The lower face translated (jaw forward/sideways)."""
        return np.asarray(move, np.float64)[None, :] * self.below_mouth[:, None]

    def side(self, left: bool = True) -> np.ndarray:
        """Soft weight of the subject's left (or right) half."""
        x = self.v[:, 0] if left else -self.v[:, 0]
        return _smoothstep((x + 0.4) / 1.2)[:, None]


def _vertex_normals(v: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    tri = v[triangles]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(v)
    for k in range(3):
        np.add.at(normals, triangles[:, k], face_n)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    if normals[4, 2] < 0:  # the nose tip must face out of the face (+Z)
        normals = -normals
    return normals


def _left_shapes(b: _Builder) -> dict[str, np.ndarray]:
    """The sided shapes for the subject's left; right ones are mirrored from these."""
    v = b.v
    lower_lid_y = np.interp(v[list(EYE_UPPER_L), 0], *_sorted_xy(v, EYE_LOWER_L))
    close = np.stack([np.zeros(7), lower_lid_y - v[list(EYE_UPPER_L), 1] + 0.04, np.full(7, 0.12)], axis=1)
    lids = EYE_UPPER_L + EYE_LOWER_L
    upper_lip_l = [i for i in LIPS_UPPER_OUTER + LIPS_UPPER_INNER if v[i, 0] > 0.2]
    lower_lip_l = [i for i in LIPS_LOWER_OUTER + LIPS_LOWER_INNER if v[i, 0] > 0.2]
    corner = (MOUTH_CORNER_L, MOUTH_CORNER_INNER_L)
    eye_skin = b.spread(EYE_UPPER_L, close, 1.6, anchors=EYE_LOWER_L + EYE_CORNERS_L + BROW_L)
    left = b.side(True)
    return {
        "eyeBlinkLeft": eye_skin,
        "eyeSquintLeft": b.spread(EYE_LOWER_L + EYE_LOWER_RING_L, (0.0, 0.22, 0.05), 1.5,
                                  anchors=EYE_UPPER_L),
        "eyeWideLeft": b.spread(EYE_UPPER_L, (0.0, 0.32, -0.05), 1.4, anchors=EYE_LOWER_L + BROW_L),
        "eyeLookUpLeft": b.spread(lids, (0.0, 0.14, 0.0), 1.0, anchors=BROW_L),
        "eyeLookDownLeft": b.spread(EYE_UPPER_L, (0.0, -0.3, 0.04), 1.2, anchors=EYE_LOWER_L + BROW_L)
        + b.spread(EYE_LOWER_L, (0.0, -0.06, 0.0), 0.8, anchors=EYE_UPPER_L),
        "eyeLookInLeft": b.spread(lids, (-0.14, 0.0, 0.0), 1.0, anchors=BROW_L),
        "eyeLookOutLeft": b.spread(lids, (0.14, 0.0, 0.0), 1.0, anchors=BROW_L),
        "browDownLeft": b.spread(BROW_L, (-0.15, -0.55, 0.1), 2.8, anchors=EYE_UPPER_L + EYE_LOWER_L),
        "browOuterUpLeft": b.spread(BROW_OUTER_L, (0.0, 0.7, 0.0), 2.8, anchors=EYE_LOWER_L + BROW_INNER_L),
        "cheekSquintLeft": b.spread(CHEEK_UPPER_L, (0.0, 0.4, 0.05), 2.5, anchors=EYE_UPPER_L),
        "noseSneerLeft": b.spread(NOSE_WING_L, (0.0, 0.45, 0.1), 1.5, anchors=(1, 4, 168)),
        "mouthSmileLeft": b.spread(corner, (0.4, 0.55, -0.25), 2.5, anchors=(0, 17, 13, 14)),
        "mouthFrownLeft": b.spread(corner, (0.1, -0.5, 0.0), 2.2, anchors=(0, 17, 13, 14)),
        "mouthDimpleLeft": b.spread(corner, (0.25, 0.0, -0.4), 2.0, anchors=(0, 17, 13, 14)),
        "mouthStretchLeft": b.spread(corner + (321, 375), (0.5, -0.2, -0.1), 3.0, anchors=(0, 17, 13, 14)),
        # ARKit: upward compression of the lower lip (the skin below it follows), the upper lip barely moves.
        "mouthPressLeft": (b.spread([i for i in LIPS_UPPER_OUTER if v[i, 0] > 0.2], (0.0, -0.08, 0.0), 1.0,
                                    anchors=(1, 4))
                           + b.spread([i for i in LIPS_LOWER_OUTER if v[i, 0] > 0.2], (0.05, 0.3, 0.05), 2.0,
                                      anchors=LIPS_UPPER_OUTER + LIPS_UPPER_INNER)),
        "mouthLowerDownLeft": b.spread(lower_lip_l, (0.0, -0.45, 0.05), 2.0, anchors=(CHIN, 14) + LIPS_UPPER_INNER)
        * left,
        "mouthUpperUpLeft": b.spread(upper_lip_l, (0.0, 0.45, 0.05), 2.0, anchors=(1, 13) + LIPS_LOWER_INNER)
        * left,
        "jawLeft": b.lower_face(JAW_LEFT),
        "mouthLeft": b.spread(LIPS_UPPER_OUTER + LIPS_LOWER_OUTER + LIPS_UPPER_INNER + LIPS_LOWER_INNER,
                              (0.6, 0.0, 0.0), 2.0, anchors=(1, 4, CHIN)),
    }


def _sorted_xy(v: np.ndarray, ids) -> tuple[np.ndarray, np.ndarray]:
    pts = v[list(ids)]
    order = np.argsort(pts[:, 0])
    return pts[order, 0], pts[order, 1]


def _centre_shapes(b: _Builder, jaw_open: np.ndarray) -> dict[str, np.ndarray]:
    """The unsided shapes."""
    v = b.v
    lips = LIPS_UPPER_OUTER + LIPS_LOWER_OUTER + LIPS_UPPER_INNER + LIPS_LOWER_INNER
    mouth_centre = v[[13, 14]].mean(axis=0)
    radial = v[list(lips)] - mouth_centre
    radial[:, 2] = 0.0
    radial /= np.linalg.norm(radial, axis=1, keepdims=True) + 1e-9
    inner_ids = np.isin(lips, LIPS_UPPER_INNER + LIPS_LOWER_INNER)
    funnel = radial * np.where(inner_ids, 0.5, 0.15)[:, None] * np.array([0.3, 1.0, 0.0]) + [0.0, 0.0, 0.45]
    pucker = -radial * np.array([0.8, 0.15, 0.0]) + [0.0, 0.0, 0.8]
    lip_weight = b.spread(LIPS_LOWER_OUTER + LIPS_LOWER_INNER, (1.0, 1.0, 1.0), 1.5, anchors=(CHIN,))
    brow_inner = BROW_INNER_L + _mirror_ids(BROW_INNER_L, b.mirror)
    cheeks = CHEEK_PUFF_L + _mirror_ids(CHEEK_PUFF_L, b.mirror)
    return {
        "jawOpen": jaw_open,
        "jawForward": b.lower_face(JAW_FORWARD),
        "mouthClose": -jaw_open * lip_weight,
        "mouthFunnel": b.spread(lips, funnel, 3.0, anchors=(1, 4, CHIN)),
        "mouthPucker": b.spread(lips, pucker, 1.8, anchors=(1, 4, CHIN)),
        # The lip curls in over the teeth: its outer edge turns towards the other lip and back.
        "mouthRollLower": b.spread(LIPS_LOWER_OUTER, (0.0, 0.35, -0.25), 1.6, anchors=LIPS_UPPER_OUTER + (CHIN,)),
        "mouthRollUpper": b.spread(LIPS_UPPER_OUTER, (0.0, -0.35, -0.25), 1.6, anchors=LIPS_LOWER_OUTER + (1,)),
        "mouthShrugLower": b.spread(LIPS_LOWER_OUTER + (CHIN, 175, 199), (0.0, 0.35, 0.2), 2.0,
                                    anchors=LIPS_UPPER_OUTER),
        "mouthShrugUpper": b.spread(LIPS_UPPER_OUTER + LIPS_UPPER_INNER, (0.0, 0.28, 0.1), 1.5,
                                    anchors=LIPS_LOWER_INNER + (1,)),
        "browInnerUp": b.spread(brow_inner, (0.0, 0.8, 0.05), 3.0,
                                anchors=EYE_UPPER_L + _mirror_ids(EYE_UPPER_L, b.mirror)),
        "cheekPuff": b.spread(cheeks, b.normals[list(cheeks)] * 0.9, 2.8, anchors=(1, 4, CHIN)),
        "tongueOut": b.spread(LIPS_LOWER_OUTER + LIPS_LOWER_INNER, (0.0, -0.3, 0.6), 1.2,
                              anchors=LIPS_UPPER_INNER + (CHIN,)) + 0.1 * jaw_open,
    }


def build_shape_offsets(face: CanonicalFace, mirror: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The 52 ARKit shape keys as (468, 3) offsets in cm (canonical frame), in ARKIT_NAMES order.

    `face` may carry another head's landmark positions (in the canonical frame): the shapes then
    follow that head's lids and lips. `mirror` (each landmark's mirror image) defaults to the
    nearest mirrored vertex, right for the symmetric canonical face."""
    b = _Builder(face, mirror)
    jaw_open = b.jaw_rotation(JAW_OPEN_DEG)
    shapes = _centre_shapes(b, jaw_open)
    for name, offsets in _left_shapes(b).items():
        shapes[name] = offsets  # jawLeft/mouthLeft mirror to jawRight/mouthRight like the sided ones
        shapes[name.replace("Left", "Right")] = mirror_offsets(offsets, b.mirror)
    missing = set(ARKIT_NAMES) - set(shapes)
    assert not missing, f"demo face lacks shapes {sorted(missing)}"
    return {name: shapes[name] for name in ARKIT_NAMES}


def rig_points(face: CanonicalFace) -> DemoRigPoints:
    """Where the demo armature's joints go: neck, head, jaw hinge, chin, eye centres."""
    v = face.vertices
    hinge = v[list(JAW_HINGE)].mean(axis=0)
    eye_l = v[list(EYE_UPPER_L + EYE_LOWER_L + EYE_CORNERS_L)]
    radius = 1.2
    centre_l = eye_l.mean(axis=0) - np.array([0.0, 0.0, radius - 0.15])
    centre_r = centre_l * np.array([-1.0, 1.0, 1.0])
    head = np.array([0.0, hinge[1] - 4.0, hinge[2] - 1.0])
    return DemoRigPoints(neck=head - np.array([0.0, 7.0, 0.5]), head=head,
                         head_top=np.array([0.0, v[:, 1].max() + 2.0, head[2]]),
                         jaw_hinge=hinge, chin=v[CHIN].copy(), eye_left=centre_l, eye_right=centre_r,
                         eye_radius=radius)


def _inside(triangles: np.ndarray, ring) -> np.ndarray:
    return np.all(np.isin(triangles, list(ring)), axis=1)


def eye_triangles(face: CanonicalFace) -> np.ndarray:
    """Mask of the triangles that cover the eyes (between the lids): removed so eyeballs show."""
    mirror = mirror_map(face.vertices)
    ring_l = EYE_UPPER_L + EYE_LOWER_L + EYE_CORNERS_L
    tri = np.asarray(face.triangles)
    return _inside(tri, ring_l) | _inside(tri, _mirror_ids(ring_l, mirror))


def mouth_triangles(face: CanonicalFace) -> np.ndarray:
    """Mask of the triangles that close the mouth (between the inner lips)."""
    return _inside(np.asarray(face.triangles), LIPS_UPPER_INNER + LIPS_LOWER_INNER + (78, 308))


def jaw_weights(face: CanonicalFace) -> np.ndarray:
    """Per-vertex weight of the jaw bone (the rest goes to the head bone)."""
    return _Builder(face).below_mouth.copy()
