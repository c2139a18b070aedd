"""Channels: one vector of named values per frame, computed from pose + blendshapes.

Names are stable (CHANNEL_NAMES). NaN means "no value" (no face in that frame), never 0.

Conventions, in Blender's frame for a character facing -Y with +X on its left and +Z up
(the subject faces the camera; camera space maps x->X, y->Z, z->-Y):
- ARKit shapes: MediaPipe scores in ARKit camelCase, `_neutral` dropped, tongueOut = 0.
- headPitch, headRoll, headYaw (radians): the head's rotation relative to the neutral
  pose as Blender XYZ Euler angles about X, Y, Z, so an object facing -Y with
  rotation_euler = (headPitch, headRoll, headYaw) follows the head. headYaw > 0: turns to
  the subject's left; headPitch > 0: nods down; headRoll > 0: tilts toward the left shoulder.
- headX, headY, headZ (metres): head translation relative to the neutral, X = subject's
  left, Y = away from the camera (-Y is toward it), Z = up.
- eyeLeftYaw/Pitch, eyeRightYaw/Pitch (radians): gaze in head space from the iris centre
  relative to the eye corners; same signs as the head (yaw > 0 looks left, pitch > 0 down).
  Pitch 0 is the eye looking straight ahead out of the head: the iris then sits
  IRIS_REST_CM above the line between the corners (see below), not on it.
- jawAngle (radians): opening of the chin about the canonical face's jaw hinge in head
  space, relative to the canonical (closed) face: 0 closed, > 0 open.
Without a calibrated neutral, head rotation is relative to facing the camera squarely and
head translation is the head's position relative to the camera itself.
"""

from __future__ import annotations

import numpy as np

from ..capture.protocol import BLENDSHAPE_NAMES
from .canonical import CanonicalFace
from .pose import HeadPose
# (N,3,3) <-> (N,3) Blender XYZ Euler (R = Rz @ Ry @ Rx): all rotation math is in rotations.py
from .rotations import euler_to_matrix as matrix_from_euler_xyz  # noqa: F401 (part of this module's API)
from .rotations import matrix_to_euler as euler_xyz_from_matrix

ARKIT_NAMES: tuple[str, ...] = BLENDSHAPE_NAMES[1:] + ("tongueOut",)
HEAD_ROTATION = ("headPitch", "headRoll", "headYaw")  # Blender XYZ Euler order
HEAD_LOCATION = ("headX", "headY", "headZ")
EYE_LEFT = ("eyeLeftPitch", "eyeLeftYaw")
EYE_RIGHT = ("eyeRightPitch", "eyeRightYaw")
JAW = ("jawAngle",)
CHANNEL_NAMES: tuple[str, ...] = ARKIT_NAMES + HEAD_ROTATION + HEAD_LOCATION + EYE_LEFT + EYE_RIGHT + JAW
CHANNEL_INDEX = {name: i for i, name in enumerate(CHANNEL_NAMES)}
N_CHANNELS = len(CHANNEL_NAMES)
N_SHAPES = len(ARKIT_NAMES)

# camera/canonical space (x right, y up, z toward camera) -> Blender (x left-of-subject, -y fwd, z up)
TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

EYE_RADIUS_CM = 1.2  # average human eyeball; iris offset / radius = sin(gaze angle)
# Where the iris centre rests, in head space, above the midpoint of the eye corners when the
# eye looks straight out of the head. MediaPipe puts it 0.21 cm up: eye pitch + head pitch of
# people looking into the lens read -9.0..-10.6 degrees from the corner line on 5 shared clips
# (tests/mapping/test_channels.py); with it they read about 0 without calibration.
IRIS_REST_CM = 0.21
_IRIS = {"left": 473, "right": 468}
_CORNERS = {"left": (263, 362), "right": (33, 133)}
_JAW_HINGE = (234, 454)  # beside the ears: they barely move when the mouth opens
_CHIN = 152


def channel_kind(name: str) -> str:
    """'shape' (0..1 score), 'rotation' (radians) or 'location' (metres)."""
    if name in HEAD_LOCATION:
        return "location"
    if name in ARKIT_NAMES:
        return "shape"
    return "rotation"


def shapes_from_mediapipe(blendshapes: np.ndarray) -> np.ndarray:
    """(N,52) MediaPipe scores (with `_neutral`) -> (N,52) ARKit order (tongueOut = 0)."""
    bs = np.asarray(blendshapes, np.float64).reshape(-1, len(BLENDSHAPE_NAMES))
    tongue = np.where(np.isnan(bs[:, :1]), np.nan, 0.0)
    return np.concatenate([bs[:, 1:], tongue], axis=1)


def head_channels(pose: HeadPose, neutral_rotation: np.ndarray | None = None,
                  neutral_translation_cm: np.ndarray | None = None) -> np.ndarray:
    """(N,6): headPitch, headRoll, headYaw (rad), headX, headY, headZ (m) relative to neutral."""
    rot = TO_BLENDER @ pose.rotation @ TO_BLENDER.T
    if neutral_rotation is not None:
        rot = rot @ (TO_BLENDER @ np.asarray(neutral_rotation) @ TO_BLENDER.T).T
    loc = pose.translation
    if neutral_translation_cm is not None:
        loc = loc - np.asarray(neutral_translation_cm)
    return np.concatenate([euler_xyz_from_matrix(rot), loc @ TO_BLENDER.T / 100.0], axis=1)


def gaze_channels(points: dict[int, np.ndarray]) -> np.ndarray:
    """(N,4): eyeLeftPitch, eyeLeftYaw, eyeRightPitch, eyeRightYaw in radians.

    points: landmark id -> (N,3) head-space positions (iris centres and eye corners)."""
    sides = ("left", "right")
    iris = np.stack([points[_IRIS[s]] for s in sides], axis=1)  # (N,2,3)
    centre = 0.5 * np.stack([points[_CORNERS[s][0]] + points[_CORNERS[s][1]] for s in sides], axis=1)
    centre[..., 1] += IRIS_REST_CM
    offset = np.clip((iris - centre) / EYE_RADIUS_CM, -1.0, 1.0)
    # pitch > 0: looking down (iris below the corners); yaw > 0: toward +X (the subject's left)
    angles = np.arcsin(np.stack([-offset[..., 1], offset[..., 0]], axis=2))  # (N,2,2)
    return angles.reshape(len(iris), 4)


def _jaw_angle(hinge: np.ndarray, chin: np.ndarray) -> np.ndarray:
    v = chin - hinge
    return np.arctan2(-v[..., 1], v[..., 2])  # grows as the chin swings down and back


def jaw_channel(points: dict[int, np.ndarray], face: CanonicalFace | None) -> np.ndarray:
    """(N,1) jaw opening in radians about the canonical hinge, 0 at the canonical (closed) face.

    The hinge is the canonical face's, not the tracked landmarks beside the ears: the skull
    does not move in head space, and those silhouette landmarks have a poorly seen depth
    (closed lips read 1-3 degrees open with them, 0-1.6 with the canonical hinge)."""
    n = len(points[_CHIN])
    if face is None:  # no canonical face (a take without landmarks): no jaw value
        return np.full((n, 1), np.nan)
    hinge = 0.5 * (face.vertices[_JAW_HINGE[0]] + face.vertices[_JAW_HINGE[1]])
    return (_jaw_angle(hinge, points[_CHIN]) - _jaw_angle(hinge, face.vertices[_CHIN]))[:, None]


def compute_channels(pose: HeadPose, blendshapes: np.ndarray, face: CanonicalFace | None,
                     neutral_rotation: np.ndarray | None = None,
                     neutral_translation_cm: np.ndarray | None = None) -> np.ndarray:
    """(N, N_CHANNELS) raw channels in CHANNEL_NAMES order; NaN where there is no value."""
    shapes = shapes_from_mediapipe(blendshapes)
    head = head_channels(pose, neutral_rotation, neutral_translation_cm)
    has_iris = pose.landmark_count > max(_IRIS.values())
    ids = [_CHIN] + ([*_IRIS.values(), *_CORNERS["left"], *_CORNERS["right"]] if has_iris else [])
    pts = pose.head_points(ids)  # only the landmarks the channels need: cheap on long takes
    points = {i: pts[:, k] for k, i in enumerate(ids)}
    gaze = gaze_channels(points) if has_iris else np.full((len(head), 4), np.nan)
    # frames without a pose already hold NaN in head, gaze and jaw; shapes may still exist
    # (a Live Link take has scores but no landmarks)
    return np.concatenate([shapes, head, gaze, jaw_channel(points, face)], axis=1)


def merge_channels(channels: np.ndarray, names, values: np.ndarray) -> np.ndarray:
    """Overwrite channels by name with finite values from another source (e.g. a CSV take)."""
    out = channels.copy()
    values = np.asarray(values, np.float64).reshape(len(out), -1)
    for col, name in enumerate(names):
        idx = CHANNEL_INDEX.get(name)
        if idx is not None:
            finite = np.isfinite(values[:, col])
            out[finite, idx] = values[finite, col]
    return out
