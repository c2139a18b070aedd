"""A demo clip with known motion: the scikit-image astronaut photo rolled and shifted per frame.

`python -m capture.synthetic OUT.mp4` writes the clip and OUT.json beside it with the true
in-plane roll (degrees, counter-clockwise on screen) and shift (pixels) of every frame, so
what the tracker reports can be checked against what really happened.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from .errors import EXIT_OK, OutputError

SIZE = 480  # square frames, pixels
FACE_CENTER = (222.0, 110.0)  # astronaut's face in the 512x512 photo, pixels (x, y)


def motion(index: int, fps: float, seconds: float) -> tuple[float, float, float]:
    """(roll degrees, shift x px, shift y px) of frame `index`: one smooth sweep each way."""
    phase = 2.0 * math.pi * index / (fps * seconds)
    return 20.0 * math.sin(phase), 40.0 * math.sin(0.5 * phase), 25.0 * math.sin(phase + 1.0)


def render(photo: np.ndarray, roll_deg: float, dx: float, dy: float) -> np.ndarray:
    """One BGR frame: the photo rotated about the face centre, shifted, cropped to SIZE."""
    cx, cy = FACE_CENTER
    matrix = cv2.getRotationMatrix2D((cx, cy), roll_deg, 1.0)  # positive = counter-clockwise on screen
    # Put the face centre at the frame centre, then add the shift.
    matrix[:, 2] += (SIZE / 2 - cx + dx, SIZE / 2 - cy + dy)
    return cv2.warpAffine(photo, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def make_clip(out: Path, seconds: float = 3.6, fps: float = 25.0) -> Path:
    """Write the clip and its ground truth JSON (same name, .json); return the JSON path."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.stem + ".partial" + out.suffix)  # keep the suffix: it picks the container
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), fps, (SIZE, SIZE))
    if not writer.isOpened():
        raise OutputError(f"cannot write video '{out}' (OpenCV has no mp4v encoder here?)")
    frames = []
    try:
        for index in range(round(seconds * fps)):
            roll, dx, dy = motion(index, fps, seconds)
            writer.write(render(photo, roll, dx, dy))
            frames.append({"index": index, "time_s": round(index / fps, 6), "roll_deg": round(roll, 6),
                           "shift_px": [round(dx, 6), round(dy, 6)]})
    finally:
        writer.release()
    os.replace(partial, out)
    truth = out.with_suffix(".json")
    truth.write_text(json.dumps({
        "source": "skimage.data.astronaut()", "fps": fps, "size_px": [SIZE, SIZE],
        "roll": "degrees, counter-clockwise on screen, about the face centre",
        "shift": "pixels, +x right, +y down, of the face centre from the frame centre",
        "frames": frames}, indent=1))
    return truth


def main(argv: list[str] | None = None) -> int:
    """`python -m capture.synthetic OUT.mp4 [--seconds S] [--fps F]`."""
    parser = argparse.ArgumentParser(prog="python -m capture.synthetic", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the .mp4 to write (ground truth goes to the same name .json)")
    parser.add_argument("--seconds", type=float, default=3.6)
    parser.add_argument("--fps", type=float, default=25.0)
    args = parser.parse_args(argv)
    try:
        truth = make_clip(args.out, args.seconds, args.fps)
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"wrote {args.out} and {truth}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
