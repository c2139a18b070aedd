"""Everyone in a take: who is in which slot, people by rank, one person's frames as arrays.

A take of several faces a frame (format version 3, TAKES.md) stores the performer in slot 0
(the arrays every one-face take has) and everyone else in slots 1.. with their person ids.
Rank 1 is the performer; ranks 2, 3... are the other people in the order they were confirmed
(people.rank_people), as the live session ranks them. Standard library and numpy only.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .face_choice import FaceTracker, Tracked
from .people import rank_people
from .protocol import Face, FaceFrame
from .take_format import Take, empty_arrays
from .take_read import read_chunks, read_columns


def fill_slots(arrays: dict[str, np.ndarray], row: int, tracked: Tracked, slots: int) -> None:
    """Person ids of every slot (the performer's in slot 0), everyone else's face in slots 1.."""
    if tracked.performer is not None:
        arrays["person_ids"][row, 0] = tracked.ids[tracked.performer]
    for slot, (person, face) in enumerate(tracked.others()[:slots - 1], start=1):
        arrays["person_ids"][row, slot] = person
        arrays["other_landmarks"][row, slot - 1] = face.landmarks
        arrays["other_blendshapes"][row, slot - 1] = face.blendshapes
        arrays["other_transforms"][row, slot - 1] = face.transform


def row_faces(arrays: dict[str, np.ndarray], row: int) -> list[Face]:
    """Every face stored in one row of a block of frames, whatever its slot."""
    faces = []
    if arrays["face_found"][row]:
        faces.append(Face(arrays["landmarks"][row], arrays["blendshapes"][row], arrays["transforms"][row]))
    for slot in np.flatnonzero(arrays["person_ids"][row, 1:] >= 0):
        faces.append(Face(arrays["other_landmarks"][row, slot], arrays["other_blendshapes"][row, slot],
                          arrays["other_transforms"][row, slot]))
    return faces


def retrack(arrays: dict[str, np.ndarray], tracker: FaceTracker, width: int, height: int) -> dict[str, np.ndarray]:
    """A block of frames with the performer and the person ids chosen again by `tracker`, which
    has seen the frames before them: segments tracked apart get one person's id across the cut."""
    count, slots = len(arrays["timestamps_us"]), arrays["person_ids"].shape[1]
    out = {**empty_arrays(count, arrays["channels"].shape[1], slots),
           "timestamps_us": arrays["timestamps_us"], "frame_indices": arrays["frame_indices"],
           "channels": arrays["channels"]}
    for row in range(count):
        frame = FaceFrame(int(arrays["frame_indices"][row]), int(arrays["timestamps_us"][row]), width, height,
                          row_faces(arrays, row))
        tracked = tracker.track(frame)
        if tracked.performer is not None:
            face = frame.faces[tracked.performer]
            out["face_found"][row] = True
            out["landmarks"][row], out["blendshapes"][row], out["transforms"][row] = (
                face.landmarks, face.blendshapes, face.transform)
        fill_slots(out, row, tracked, slots)
    return out


def ranked_people(take: Take) -> list[int | None]:
    """Person ids by rank: None for rank 1 (the performer: slot 0, whoever the choice settled on),
    then the other people confirmed in the take, in the order they were confirmed."""
    return _ranked(take.person_ids, take.timestamps_us)


def _ranked(person_ids: np.ndarray, timestamps_us: np.ndarray) -> list[int | None]:
    performers = set(np.unique(person_ids[:, 0]).tolist()) - {-1}
    return [None, *(p for p in rank_people(person_ids, timestamps_us) if p not in performers)]


def _check_rank(rank: int) -> None:
    if rank < 1:
        raise ValueError(f"a person's rank starts at 1 (the performer), not {rank}")


def person_frames(take: Take, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(found, landmarks, blendshapes, transforms) of the person at `rank` (1 = the performer) in
    every frame of the take; NaN where they are not in view. A rank nobody has is never found."""
    _check_rank(rank)
    if rank == 1:
        return take.face_found, take.landmarks, take.blendshapes, take.transforms
    ranked = ranked_people(take)
    return _frames_of(take, ranked[rank - 1] if rank <= len(ranked) else None)


def _frames_of(take: Take, person: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A person's frames (by id) in slots 1.. of `take`, which may be one piece of a take."""
    arrays = empty_arrays(take.frame_count)
    if person is not None:
        rows, slots = np.nonzero(take.person_ids[:, 1:] == person)
        arrays["face_found"][rows] = True
        arrays["landmarks"][rows] = take.other_landmarks[rows, slots]
        arrays["blendshapes"][rows] = take.other_blendshapes[rows, slots]
        arrays["transforms"][rows] = take.other_transforms[rows, slots]
    return arrays["face_found"], arrays["landmarks"], arrays["blendshapes"], arrays["transforms"]


def _alone(take: Take, frames: tuple, rank: int) -> Take:
    found, landmarks, blendshapes, transforms = frames
    return Take(metadata={**take.metadata, "face_slots": 1, "person_rank": rank},
                timestamps_us=take.timestamps_us, frame_indices=take.frame_indices, face_found=found,
                landmarks=landmarks, blendshapes=blendshapes, transforms=transforms, channels=take.channels,
                complete=take.complete, problem=take.problem)


def person_take(take: Take, rank: int) -> Take:
    """The take as if the person at `rank` were its only face (rank 1: the take itself), for
    mapping and baking a character who follows that person."""
    return take if rank == 1 else _alone(take, person_frames(take, rank), rank)


def person_chunks(path, rank: int) -> Iterator[Take]:
    """read_chunks() of a take as if the person at `rank` were its only face: the ranking comes
    first, from the person ids and times alone (take_read.read_columns, a few bytes a frame),
    then the pieces; one piece in memory at a time."""
    _check_rank(rank)
    if rank == 1:
        yield from read_chunks(path)
        return
    columns = read_columns(path, ("person_ids", "timestamps_us"))
    ids = columns.get("person_ids")  # none in a one-face take: nobody but the performer
    ranked = _ranked(ids, columns["timestamps_us"]) if ids is not None and len(ids) else [None]
    person = ranked[rank - 1] if rank <= len(ranked) else None
    for piece in read_chunks(path):
        yield _alone(piece, _frames_of(piece, person), rank)
