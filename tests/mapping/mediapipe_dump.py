"""Test helper run in the CAPTURE interpreter: MediaPipe FaceLandmarker output -> .npz.

tests/mapping runs in the Blender env (no mediapipe), so its fixtures start this script
as a subprocess with FACE_MOCAP_CAPTURE_PYTHON. Two sources:
  video:     python mediapipe_dump.py video CLIP OUT.npz --model M [--max-frames N]
  astronaut: python mediapipe_dump.py astronaut OUT.npz --model M
The astronaut mode rotates/scales/shifts the scikit-image astronaut in-plane with OpenCV
by known amounts (exact ground truth) and runs each image independently (IMAGE mode).
Saved arrays: landmarks (N,478,3) float32 (NaN when no face), blendshapes (N,52),
matrices (N,4,4), present (N,) bool, timestamps_ms (N,), width, height, fps,
blendshape_names; astronaut mode adds angle_deg, scale, shift_px (N,2).
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision
from mediapipe.tasks.python.vision.core.image import Image, ImageFormat

N_LANDMARKS = 478
N_BLENDSHAPES = 52


def _make_landmarker(model: str, video: bool) -> vision.FaceLandmarker:
    mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=model),
        running_mode=mode,
        num_faces=1,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    return vision.FaceLandmarker.create_from_options(options)


class _Collector:
    def __init__(self) -> None:
        self.landmarks: list[np.ndarray] = []
        self.blendshapes: list[np.ndarray] = []
        self.matrices: list[np.ndarray] = []
        self.present: list[bool] = []
        self.names: list[str] = []

    def add(self, result: vision.FaceLandmarkerResult) -> None:
        if not result.face_landmarks:
            self.landmarks.append(np.full((N_LANDMARKS, 3), np.nan, np.float32))
            self.blendshapes.append(np.full(N_BLENDSHAPES, np.nan, np.float32))
            self.matrices.append(np.full((4, 4), np.nan, np.float32))
            self.present.append(False)
            return
        lms = result.face_landmarks[0]
        self.landmarks.append(np.array([[p.x, p.y, p.z] for p in lms], np.float32))
        cats = result.face_blendshapes[0]
        self.names = [c.category_name for c in cats]
        self.blendshapes.append(np.array([c.score for c in cats], np.float32))
        self.matrices.append(np.asarray(result.facial_transformation_matrixes[0], np.float32))
        self.present.append(True)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "landmarks": np.stack(self.landmarks),
            "blendshapes": np.stack(self.blendshapes),
            "matrices": np.stack(self.matrices),
            "present": np.array(self.present, bool),
            "blendshape_names": np.array(self.names),
        }


def dump_video(clip: str, out: str, model: str, max_frames: int) -> None:
    cap = cv2.VideoCapture(clip)
    if not cap.isOpened():
        sys.exit(f"cannot open {clip}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    collector = _Collector()
    stamps: list[float] = []
    width = height = 0
    with _make_landmarker(model, video=True) as landmarker:
        while len(stamps) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            height, width = bgr.shape[:2]
            stamp = len(stamps) * 1000.0 / fps  # file time, as the capture process uses
            rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            image = Image(image_format=ImageFormat.SRGB, data=rgb)
            collector.add(landmarker.detect_for_video(image, int(round(stamp))))
            stamps.append(stamp)
    np.savez(out, **collector.arrays(), timestamps_ms=np.array(stamps), width=width,
             height=height, fps=fps)


def astronaut_cases() -> list[tuple[float, float, tuple[float, float]]]:
    """Known in-plane transforms: (angle deg counter-clockwise, scale, shift px)."""
    cases = [(0.0, 1.0, (0.0, 0.0))]
    for angle in (-30.0, -20.0, -10.0, -5.0, 5.0, 10.0, 20.0, 30.0):
        cases.append((angle, 1.0, (0.0, 0.0)))
    for angle, scale, shift in ((15.0, 0.8, (40.0, -30.0)), (-15.0, 1.2, (-50.0, 20.0)),
                                (25.0, 0.9, (30.0, 40.0)), (-25.0, 1.1, (0.0, -40.0)),
                                (0.0, 0.75, (60.0, 0.0)), (0.0, 1.25, (0.0, 30.0))):
        cases.append((angle, scale, shift))
    return cases


def dump_astronaut(out: str, model: str) -> None:
    from skimage import data

    face = np.ascontiguousarray(data.astronaut())  # RGB 512x512, face near (224, 123)
    size = 640
    centre = size / 2.0
    # Put the face at the image centre (the camera's principal point), enlarged 1.6x: an
    # in-plane rotation about the principal point is then exactly a head roll about the
    # view axis, and the face stays well inside the frame for every case.
    base = np.array([[1.6, 0.0, centre - 1.6 * 224.0], [0.0, 1.6, centre - 1.6 * 123.0], [0, 0, 1]])
    collector = _Collector()
    cases = astronaut_cases()
    with _make_landmarker(model, video=False) as landmarker:
        for angle, scale, (dx, dy) in cases:
            m = cv2.getRotationMatrix2D((centre, centre), angle, scale)
            m[:, 2] += (dx, dy)
            img = cv2.warpAffine(face, m @ base, (size, size), flags=cv2.INTER_LINEAR)
            img = np.ascontiguousarray(img)
            collector.add(landmarker.detect(Image(image_format=ImageFormat.SRGB, data=img)))
    np.savez(out, **collector.arrays(), timestamps_ms=np.arange(len(cases)) * 1000.0 / 30,
             width=size, height=size, fps=30.0,
             angle_deg=np.array([c[0] for c in cases]), scale=np.array([c[1] for c in cases]),
             shift_px=np.array([c[2] for c in cases]))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and write the .npz."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("video", "astronaut"))
    parser.add_argument("paths", nargs="+", help="video: CLIP OUT; astronaut: OUT")
    parser.add_argument("--model", required=True)
    parser.add_argument("--max-frames", type=int, default=10**9)
    args = parser.parse_args(argv)
    if args.mode == "video":
        dump_video(args.paths[0], args.paths[1], args.model, args.max_frames)
    else:
        dump_astronaut(args.paths[0], args.model)


if __name__ == "__main__":
    main()
