"""Who is who: a stable id for every person in view, frame after frame.

MediaPipe returns the faces of a frame in no stable order. PeopleTracker gives each face the
id of the person it continues: every person is a track (where the face was, how big, how fast
it moved), and each frame's faces are matched to the tracks, cheapest match first, by distance
from where the track was heading (in face sizes) and by size. A face no track can continue is
a new person with a new id (ids are never reused). A person lost for a moment (covered, turned
away, walking behind someone) keeps their id when they come back near where they were heading:
the distance allowed grows with the time they have been gone; gone CLOSER_AFTER_S, they may
come back larger (nearer the camera), never smaller.

People who walk past each other keep their ids (the one behind may be hidden for a moment:
the track goes on in the direction it was moving). Two people who change places in a cut
(no frames in between) cannot be told apart by position: that would need face recognition.

A face seen for less than CONFIRM_S and then not again within TENTATIVE_S (a one-frame false
detection) is forgotten; a person followed for CONFIRM_S is confirmed, and confirmed people are ranked in
the order they were confirmed (`rank_people` replays that ranking from a take's ids).
Pure numpy on plain arrays: the capture process and Blender both run it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SIZE_TOLERANCE = 1.6  # a face this much larger or smaller than a person's is someone else
NEAR_FACE_SIZES = 0.6  # how far (in face sizes) a face may be from where its person was heading
GROWTH_PER_S = 1.5  # after a person is lost, the allowed distance grows this much per second
CONFIRM_S = 0.2  # followed this long, a face is a person (not a one-frame false detection)
TENTATIVE_S = 0.5  # a face not yet confirmed is forgotten when it is not seen again within this
CLOSER_AFTER_S = 2.0  # gone this long, a person may come back larger (nearer), never smaller
PREDICT_S = 0.6  # a lost person's track goes on in its direction for at most this long
VELOCITY_GAP_S = 0.25  # frames further apart than this do not update a track's speed


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


@dataclass
class Track:
    """One person: the last box seen, the speed (px/s), when first and last seen."""

    id: int
    box: FaceBox
    first_t: float
    seen_t: float
    velocity: tuple[float, float] = (0.0, 0.0)
    confirmed: bool = False

    def cost(self, box: FaceBox, t: float) -> float | None:
        """How well `box` continues this person at time t (lower is better); None if it cannot."""
        since = t - self.seen_t
        gone = max(0.0, since - 0.1)
        reach = NEAR_FACE_SIZES + GROWTH_PER_S * gone
        largest = SIZE_TOLERANCE if gone < CLOSER_AFTER_S else math.inf
        if not self.box.size / SIZE_TOLERANCE <= box.size <= self.box.size * largest:
            return None
        ahead = min(max(since, 0.0), PREDICT_S)
        x, y = self.box.x + self.velocity[0] * ahead, self.box.y + self.velocity[1] * ahead
        distance = math.hypot(box.x - x, box.y - y) / self.box.size
        if distance > reach:
            return None
        return distance + 2.0 * abs(math.log(box.size / self.box.size))

    def follow(self, box: FaceBox, t: float) -> None:
        dt = t - self.seen_t
        if 0.0 < dt <= VELOCITY_GAP_S:
            vx, vy = (box.x - self.box.x) / dt, (box.y - self.box.y) / dt
            self.velocity = (0.5 * (self.velocity[0] + vx), 0.5 * (self.velocity[1] + vy))
        self.box, self.seen_t = box, t
        self.confirmed = self.confirmed or t - self.first_t >= CONFIRM_S - 1e-7


@dataclass
class PeopleTracker:
    """Person ids for the faces of a stream of frames (one per capture; ids are never reused)."""

    tracks: list[Track] = field(default_factory=list)
    ranked: list[int] = field(default_factory=list)  # confirmed ids, in the order they were confirmed
    next_id: int = 0

    def reset(self) -> None:
        """Forget everyone (a restarted source); new faces get new ids."""
        self.tracks, self.ranked = [], []

    def update(self, boxes: list[FaceBox], t: float) -> list[int]:
        """The person id of each box, in the order given."""
        self.tracks = [track for track in self.tracks if track.confirmed or t - track.seen_t <= TENTATIVE_S]
        pairs = sorted((cost, ti, bi) for ti, track in enumerate(self.tracks) for bi, box in enumerate(boxes)
                       if (cost := track.cost(box, t)) is not None)
        ids: list[int | None] = [None] * len(boxes)
        taken: set[int] = set()
        newly_confirmed = []
        for _, ti, bi in pairs:
            track = self.tracks[ti]
            if ti in taken or ids[bi] is not None:
                continue
            taken.add(ti)
            ids[bi], was = track.id, track.confirmed
            track.follow(boxes[bi], t)
            if track.confirmed and not was:
                newly_confirmed.append(track.id)
        self.ranked.extend(sorted(newly_confirmed))
        new = sorted((bi for bi in range(len(boxes)) if ids[bi] is None),  # an order MediaPipe's does not sway
                     key=lambda bi: (-boxes[bi].size, boxes[bi].x, boxes[bi].y))
        for bi in new:
            self.tracks.append(Track(self.next_id, boxes[bi], t, t))
            ids[bi] = self.next_id
            self.next_id += 1
        return ids  # type: ignore[return-value]

    def box_of(self, person: int) -> FaceBox | None:
        return next((track.box for track in self.tracks if track.id == person), None)


def rank_people(person_ids: np.ndarray, timestamps_us: np.ndarray) -> list[int]:
    """Ids of a take's confirmed people in the order PeopleTracker confirmed them.

    person_ids: (N, K) ints, -1 for an empty slot. A person is confirmed on the first frame
    where they are seen CONFIRM_S or more after they were first seen."""
    ids = np.asarray(person_ids)
    t = np.asarray(timestamps_us, np.int64)
    confirmed_at: dict[int, int] = {}
    for person in np.unique(ids[ids >= 0]).tolist():
        rows = np.flatnonzero((ids == person).any(axis=1))
        late = rows[t[rows] - t[rows[0]] >= round(CONFIRM_S * 1e6) - 1]  # as PeopleTracker rounds
        if len(late):
            confirmed_at[person] = int(late[0])
    return sorted(confirmed_at, key=lambda person: (confirmed_at[person], person))
