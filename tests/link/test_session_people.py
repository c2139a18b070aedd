"""A live session with two people in view (tests/capture/two_people.py: real GRID footage, the
real capture process): the newest frame comes with every face's person id and the ranking, and
the take recorded live holds both people, each with one id through the whole clip, also after
they walk past each other and change places."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from link_fixtures import options_for  # noqa: F401 (fixture)
from face_mocap.capture.face_choice import FaceBox
from face_mocap.capture.takes import SLOTS_VERSION, read_take
from face_mocap.link.session import CaptureSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "capture"))
import two_people  # noqa: E402


def test_a_live_session_keeps_each_person_and_records_everyone(options_for, facedata, tmp_path):
    clip, path = tmp_path / "two_people.avi", tmp_path / "live.fmtake"
    two_people.write_clip(facedata, clip)
    session = CaptureSession(options_for(str(clip), realtime=False, num_faces=2))
    session.start()
    ranks: list[list[int]] = []
    try:
        deadline = time.monotonic() + 90.0
        while session.poll().frames_received < 1 and session.active and time.monotonic() < deadline:
            time.sleep(0.01)
        session.start_recording(path, {"name": "live", "source": str(clip), "face_slots": 2})
        while session.poll().state == "running" and session.active and time.monotonic() < deadline:
            people = session.people()
            if people is not None:
                ranks.append(people[1])
            time.sleep(0.01)
        session.stop_recording()
    finally:
        session.stop()
    take = read_take(path)
    assert take.metadata["format_version"] == SLOTS_VERSION and take.frame_count > 200
    w, h = take.image_size
    first = take.frame_indices[0]
    seen: dict[str, set[int]] = {"A": set(), "B": set()}
    for i in range(take.frame_count):
        for slot in range(2):
            if take.person_ids[i, slot] >= 0:
                landmarks = take.landmarks[i] if slot == 0 else take.other_landmarks[i, 0]
                whose = two_people.owner(FaceBox.of(landmarks, w, h).x, int(take.frame_indices[i]))
                if whose:
                    seen[whose].add(int(take.person_ids[i, slot]))
    print(f"live: {take.frame_count} frames recorded from frame {first}, ids per person {seen}, "
          f"last ranking {ranks[-1] if ranks else None}")
    assert len(seen["A"]) == 1 and len(seen["B"]) == 1 and seen["A"] != seen["B"]
    final = ranks[-1]
    assert len(final) == 2 and set(final) == seen["A"] | seen["B"]
    assert all(r[:len(final)] == final[:len(r)] for r in ranks)  # once ranked, a person keeps the rank
