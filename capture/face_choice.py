"""The right face: which of the faces MediaPipe finds is the performer, frame after frame.

MediaPipe's face order is not stable from frame to frame, and with num_faces = 1 it simply
returns a face. The performer is chosen once, on the first frames with faces: the largest
face near the centre of the image, kept once it has been followed for CONFIRM_S. After
that, each frame's performer is the face that continues the performer's track (position
and size from its landmarks): nearest to where it was, in face sizes, and of about the same
size. A face that appears elsewhere, or much smaller (a person in the background), never
takes over: when no face continues the track the frame has no performer (the rig holds
still) until the performer comes back; the distance allowed grows with the time the
performer has been gone (walking back in), and after CLOSER_AFTER_S they may come back
larger (nearer the camera), never smaller.
Pure numpy on plain arrays; FaceTracker.order() works on protocol FaceFrames. It runs in the
capture process (Import Video writes the performer) and in Blender (the live session maps and
records the performer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .protocol import FaceFrame

SIZE_TOLERANCE = 1.6  # a face this much larger or smaller than the performer is someone else
NEAR_FACE_SIZES = 0.6  # how far (in performer face sizes) the face may move between two frames
GROWTH_PER_S = 1.5  # after the performer is lost, the allowed distance grows this much per second
CONFIRM_S = 0.2  # followed this long, a face is the performer: a one-frame false detection (a
#                  cartoon, a poster) cannot take the choice from the person who then appears
CLOSER_AFTER_S = 2.0  # gone this long, the performer may come back larger (nearer), never smaller


@dataclass(frozen=True)
class FaceBox:
    """Where a face is in the image, in pixels: centre (x, y) and size (bounding-box height)."""

    x: float
    y: float
    size: float

    @classmethod
    def of(cls, landmarks: np.ndarray, width: int, height: int) -> "FaceBox":
        """The box of (478, 3) normalised landmarks in a width x height image."""
        xy = np.asarray(landmarks, np.float64)[:, :2] * (width, height)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        centre = 0.5 * (lo + hi)
        return cls(float(centre[0]), float(centre[1]), float(max(hi[1] - lo[1], hi[0] - lo[0], 1e-6)))


def first_choice(boxes: list[FaceBox], width: int, height: int) -> int:
    """The performer when capture starts: the largest face near the centre of the image."""
    def score(box: FaceBox) -> float:
        off_centre = math.hypot(box.x - width / 2, box.y - height / 2) / height
        return box.size / height / (1.0 + 3.0 * off_centre)
    return max(range(len(boxes)), key=lambda i: score(boxes[i]))


class FaceTracker:
    """Follows one performer through a stream of frames; one per capture (start = a new choice)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Choose again on the next frame with faces."""
        self.performer: FaceBox | None = None
        self.confirmed = False
        self._seen_t = self._since_t = -math.inf

    def choose(self, boxes: list[FaceBox], width: int, height: int, t: float) -> int | None:
        """Index of the performer among this frame's faces, or None (not in this frame)."""
        if t < self._seen_t:  # time ran backwards: a restarted source (a looping video) chooses again
            self.reset()
        if not boxes:
            return None
        index = None if self.performer is None else self._continuing(boxes, t)
        if index is None and not self.confirmed and t - self._seen_t > CONFIRM_S:
            # no choice yet, or a candidate not seen for a while (a false detection): choose afresh
            index, self._since_t = first_choice(boxes, width, height), t
        if index is None:
            return None
        self.performer, self._seen_t = boxes[index], t
        self.confirmed = self.confirmed or t - self._since_t >= CONFIRM_S
        return index

    def _continuing(self, boxes: list[FaceBox], t: float) -> int | None:
        p = self.performer
        gone = max(0.0, t - self._seen_t - 0.1)
        reach = NEAR_FACE_SIZES + GROWTH_PER_S * gone
        largest = SIZE_TOLERANCE if gone < CLOSER_AFTER_S else math.inf
        best, best_cost = None, math.inf
        for i, box in enumerate(boxes):
            ratio = abs(math.log(box.size / p.size))
            distance = math.hypot(box.x - p.x, box.y - p.y) / p.size
            if not p.size / SIZE_TOLERANCE <= box.size <= p.size * largest or distance > reach:
                continue
            cost = distance + 2.0 * ratio
            if cost < best_cost:
                best, best_cost = i, cost
        return best

    def order(self, frame: FaceFrame) -> FaceFrame:
        """The frame with the performer as its first face, or with no face when it is not there."""
        boxes = [FaceBox.of(face.landmarks, frame.width, frame.height) for face in frame.faces]
        index = self.choose(boxes, frame.width, frame.height, frame.timestamp_us / 1e6)
        if index is None:
            return replace(frame, faces=[])
        if index == 0:
            return frame
        return replace(frame, faces=[frame.faces[index]] + [f for i, f in enumerate(frame.faces) if i != index])
