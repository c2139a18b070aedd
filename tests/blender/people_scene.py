"""Two demo heads and the two-person clip (tests/capture/two_people.py): each head's jaw against
each person's own, to tell which person a head follows."""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import numpy as np

from face_mocap.capture.face_choice import FaceBox
from face_mocap.capture.protocol import BLENDSHAPE_NAMES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "capture"))
import two_people  # noqa: E402  (the clip's layout; the clip itself is made in the capture interpreter)

JAW = BLENDSHAPE_NAMES.index("jawOpen")


def jaw_by_person(take) -> dict[str, np.ndarray]:
    """Each person's own jawOpen per frame (MediaPipe's raw score; NaN where not told apart),
    known by where the clip put them, whatever id the tracker gave."""
    w, h = take.image_size
    jaw = {person: np.full(take.frame_count, np.nan) for person in "AB"}
    for i in range(take.frame_count):
        for slot in np.flatnonzero(take.person_ids[i] >= 0):
            landmarks = take.landmarks[i] if slot == 0 else take.other_landmarks[i, slot - 1]
            scores = take.blendshapes[i] if slot == 0 else take.other_blendshapes[i, slot - 1]
            whose = two_people.owner(FaceBox.of(landmarks, w, h).x, i)
            if whose:
                jaw[whose][i] = scores[JAW]
    return jaw


def two_heads() -> tuple:
    """The demo head as the targets (person 1) and a second one as a character (person 2)."""
    assert bpy.ops.facemocap.add_demo_head() == {"FINISHED"}
    assert bpy.ops.facemocap.add_demo_head(as_character=True) == {"FINISHED"}
    settings = bpy.context.scene.face_mocap
    (second,) = settings.characters
    assert second.person == 2 and second.mesh is not None and second.mesh != settings.target_mesh
    assert len(second.mesh.face_mocap.rows) > 0
    bpy.context.view_layer.update()
    gap = second.mesh.matrix_world.translation.x - settings.target_mesh.matrix_world.translation.x
    assert gap > second.mesh.dimensions.x  # side by side, not one inside the other
    return settings.target_mesh, second.mesh


def follows(head: np.ndarray, jaw: dict[str, np.ndarray], frames: np.ndarray) -> dict[str, float]:
    """Correlation of a head's jaw with each person's own, over `frames` where both are seen."""
    both = frames[~np.isnan(jaw["A"][frames]) & ~np.isnan(jaw["B"][frames]) & ~np.isnan(head[frames])]
    return {person: float(np.corrcoef(head[both], jaw[person][both])[0, 1]) for person in "AB"}


def check_each_head_follows_its_person(heads: dict[str, np.ndarray], jaw, performer: str, what: str) -> None:
    other = "A" if performer == "B" else "B"
    halves = {"before they change places": np.arange(0, two_people.CROSS[0]),
              "after": np.arange(two_people.CROSS[1], len(jaw["A"]))}
    for half, frames in halves.items():
        first, second = follows(heads["first"], jaw, frames), follows(heads["second"], jaw, frames)
        print(f"{what}, {half}: head 1 jaw vs A/B {first}, head 2 {second}")
        assert first[performer] > 0.8 and first[performer] > first[other] + 0.5
        assert second[other] > 0.8 and second[other] > second[performer] + 0.5


def performer_of(take, jaw) -> str:
    seen = {person for person in "AB" if np.allclose(take.blendshapes[:, JAW][~np.isnan(jaw[person])],
                                                     jaw[person][~np.isnan(jaw[person])])}
    assert len(seen) == 1
    return seen.pop()
