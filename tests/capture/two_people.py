"""A two-person clip made from shared footage: two GRID speakers side by side who then walk past
each other and change places. Run in the capture interpreter (OpenCV); Blender tests run it
there with `python two_people.py FACEDATA OUT.avi` (prints the layout as JSON).

Layout (25 fps, 1080x320): speaker A (bbaf2n) in a 360x288 cell on the left, speaker B
(lwbsza, 40 frames further into its clip) on the right; from CROSS[0] to CROSS[1] both slide across at 16 px a frame, B in
front, so A is hidden behind B for about half a second; then A is on the right and B on the
left. Each GRID clip (75 frames) plays forwards and backwards, twice: a real mouth all along.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

SIZE = (1080, 320)
CELL = (360, 288)
TOP = 16
FRAMES = 240
FPS = 25.0
CROSS = (90, 130)
LEFT, RIGHT = 40, 680  # cell x at the start
SPEAKERS = {"A": "grid/bbaf2n.mpg", "B": "grid/lwbsza.mpg"}
B_LATER = 40  # frames B's speech runs behind A's: their mouths move at different times


def cell_x(person: str, frame: int) -> float:
    """Left edge of the person's cell in that frame."""
    s = min(max((frame - CROSS[0]) / (CROSS[1] - CROSS[0]), 0.0), 1.0)
    start, end = (LEFT, RIGHT) if person == "A" else (RIGHT, LEFT)
    return start + s * (end - start)


def centre_x(person: str, frame: int) -> float:
    return cell_x(person, frame) + CELL[0] / 2


def owner(x: float, frame: int, margin: float = 150.0) -> str | None:
    """Whose face is at image x in that frame; None where the two cells are too close to tell."""
    a, b = centre_x("A", frame), centre_x("B", frame)
    if abs(a - b) < margin:
        return None
    return "A" if abs(x - a) < abs(x - b) else "B"


def _frames(path: Path, skip: int = 0) -> list[np.ndarray]:
    import cv2  # only where the clip is made: Blender tests import the layout without OpenCV

    video, frames = cv2.VideoCapture(str(path)), []
    while (read := video.read())[0]:
        frames.append(read[1])
    video.release()
    there_and_back = frames + frames[::-1]
    return (there_and_back * (FRAMES // len(there_and_back) + 2))[skip:skip + FRAMES]


def write_clip(facedata: Path, out: Path, swap: bool = True) -> None:
    """The clip (MJPG .avi); without `swap` the two stay side by side all along."""
    import cv2

    faces = {person: _frames(facedata / clip, B_LATER if person == "B" else 0) for person, clip in SPEAKERS.items()}
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for i in range(FRAMES):
        canvas = np.full((SIZE[1], SIZE[0], 3), 100, np.uint8)
        for person in ("A", "B"):  # B drawn last: in front
            x = round(cell_x(person, i if swap else 0))
            canvas[TOP:TOP + CELL[1], x:x + CELL[0]] = faces[person][i]
        writer.write(canvas)
    writer.release()


if __name__ == "__main__":
    write_clip(Path(sys.argv[1]), Path(sys.argv[2]))
    print(json.dumps({"frames": FRAMES, "fps": FPS, "cross": CROSS}))
