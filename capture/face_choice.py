"""The right face: which of the faces MediaPipe finds is the performer, frame after frame.

MediaPipe's face order is not stable from frame to frame, and with num_faces = 1 it simply
returns a face. Every face gets the id of its person (people.py: followed by position, size
and direction of movement). The performer is chosen once, on the first frames with faces:
the largest face near the centre of the image, kept once it has been followed for CONFIRM_S.
After that, each frame's performer is the face with the performer's person id. A face that
appears elsewhere, or much smaller (a person in the background), is someone else and never
takes over: when the performer is not found the frame has no performer (the rig holds still)
until they come back (people.py says how far and how much nearer they may come back).
Pure numpy on plain arrays; FaceTracker.track() works on protocol FaceFrames. It runs in the
capture process (Import Video writes the performer and everyone else with their ids) and in
Blender (the live session maps and records them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .people import CONFIRM_S, FaceBox, PeopleTracker
from .protocol import Face, FaceFrame

__all__ = ["FaceBox", "FaceTracker", "Tracked", "first_choice"]


def first_choice(boxes: list[FaceBox], width: int, height: int) -> int:
    """The performer when capture starts: the largest face near the centre of the image."""
    def score(box: FaceBox) -> float:
        off_centre = math.hypot(box.x - width / 2, box.y - height / 2) / height
        return box.size / height / (1.0 + 3.0 * off_centre)
    return max(range(len(boxes)), key=lambda i: score(boxes[i]))


@dataclass(frozen=True)
class Tracked:
    """One frame's faces (in MediaPipe's order) with each face's person id and which is the performer."""

    frame: FaceFrame
    ids: tuple[int, ...]
    performer: int | None  # index into frame.faces

    @classmethod
    def untracked(cls, frame: FaceFrame) -> "Tracked":
        """A frame whose faces come in a known order: the first is the performer, ids 0, 1, 2..."""
        return cls(frame, tuple(range(len(frame.faces))), 0 if frame.faces else None)

    def performer_frame(self) -> FaceFrame:
        """The frame with the performer as its first face, or with no face when it is not there."""
        faces = self.frame.faces
        if self.performer is None:
            return replace(self.frame, faces=[])
        if self.performer == 0:
            return self.frame
        return replace(self.frame, faces=[faces[self.performer]] + [f for i, f in enumerate(faces)
                                                                     if i != self.performer])

    def others(self) -> list[tuple[int, Face]]:
        """(person id, face) of everyone but the performer, by id (the earliest seen first)."""
        return sorted(((pid, face) for i, (pid, face) in enumerate(zip(self.ids, self.frame.faces))
                       if i != self.performer), key=lambda item: item[0])

    def face_of(self, person: int) -> Face | None:
        return next((face for pid, face in zip(self.ids, self.frame.faces) if pid == person), None)


class FaceTracker:
    """Follows everyone and one performer through a stream of frames; one per capture."""

    def __init__(self) -> None:
        self.people = PeopleTracker()
        self.reset()

    def reset(self) -> None:
        """Choose again on the next frame with faces (people get new ids)."""
        self.people.reset()
        self.performer_id: int | None = None
        self.confirmed = False
        self._seen_t = self._since_t = self._last_t = -math.inf
        self.former_performers: set[int] = set()  # ids chosen before the choice settled

    @property
    def performer(self) -> FaceBox | None:
        """Where the performer was last seen."""
        return None if self.performer_id is None else self.people.box_of(self.performer_id)

    def ranked(self) -> list[int]:
        """Person ids by rank: the performer (once settled) first, then everyone else confirmed,
        in the order they were confirmed."""
        first = [self.performer_id] if self.confirmed else []
        return first + [p for p in self.people.ranked if p != self.performer_id and p not in self.former_performers]

    def choose_ids(self, boxes: list[FaceBox], width: int, height: int, t: float) -> tuple[list[int], int | None]:
        """(person id of each face, index of the performer or None when not in this frame)."""
        if t < self._last_t:  # time ran backwards: a restarted source (a looping video) chooses again
            self.reset()
        self._last_t = t
        ids = self.people.update(boxes, t)
        if not boxes:
            return ids, None
        index = ids.index(self.performer_id) if self.performer_id in ids else None
        if index is None and not self.confirmed and t - self._seen_t > CONFIRM_S:
            # no choice yet, or a candidate not seen for a while (a false detection): choose afresh
            if self.performer_id is not None:
                self.former_performers.add(self.performer_id)
            index, self._since_t = first_choice(boxes, width, height), t
            self.performer_id = ids[index]
        if index is None:
            return ids, None
        self._seen_t = t
        self.confirmed = self.confirmed or t - self._since_t >= CONFIRM_S
        return ids, index

    def choose(self, boxes: list[FaceBox], width: int, height: int, t: float) -> int | None:
        """Index of the performer among this frame's faces, or None (not in this frame)."""
        return self.choose_ids(boxes, width, height, t)[1]

    def track(self, frame: FaceFrame) -> Tracked:
        """Every face of the frame with its person id, and which one is the performer."""
        boxes = [FaceBox.of(face.landmarks, frame.width, frame.height) for face in frame.faces]
        ids, index = self.choose_ids(boxes, frame.width, frame.height, frame.timestamp_us / 1e6)
        return Tracked(frame, tuple(ids), index)

    def order(self, frame: FaceFrame) -> FaceFrame:
        """The frame with the performer as its first face, or with no face when it is not there."""
        return self.track(frame).performer_frame()
