"""`--rerun FILE.rrd`: log a capture session for the Rerun viewer (optional rerun-sdk).

Laid out like Rerun's face-tracking example: timelines `time` and `frame_idx`; the image;
2D landmarks with one annotation class per facial feature (keypoint connections draw the
lines); metric 3D landmarks; the face box; one scalar series per blendshape. The image is
logged as an Image compressed to JPEG, which keeps a recording a few MB instead of hundreds.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np

from .errors import OutputError, UsageError
from .protocol import BLENDSHAPE_NAMES, NUM_LANDMARKS, FaceFrame
from .sources import VideoFrame

# MediaPipe's feature groups (FaceLandmarksConnections attribute names) -> class label.
FEATURES = (
    ("FACE_LANDMARKS_FACE_OVAL", "face oval"),
    ("FACE_LANDMARKS_LIPS", "lips"),
    ("FACE_LANDMARKS_LEFT_EYE", "left eye"),
    ("FACE_LANDMARKS_RIGHT_EYE", "right eye"),
    ("FACE_LANDMARKS_LEFT_EYEBROW", "left eyebrow"),
    ("FACE_LANDMARKS_RIGHT_EYEBROW", "right eyebrow"),
    ("FACE_LANDMARKS_LEFT_IRIS", "left iris"),
    ("FACE_LANDMARKS_RIGHT_IRIS", "right iris"),
    ("FACE_LANDMARKS_NOSE", "nose"),
)


def _pose_module():
    """mapping/pose.py, which turns screen landmarks into metric ones (MediaPipe's own geometry)."""
    if __package__ and "." in __package__:  # imported inside the add-on package (tests, Blender)
        return importlib.import_module(".mapping.pose", __package__.rpartition(".")[0])
    return importlib.import_module("mapping.pose")  # `python -m capture`: the add-on folder is on the path


def feature_classes() -> tuple[list[tuple[int, str, list[tuple[int, int]]]], np.ndarray]:
    """[(class id, label, keypoint connections)] and the class id of each of the 478 landmarks."""
    from .mediapipe_face import face_landmarker_api

    FaceLandmarksConnections = face_landmarker_api().FaceLandmarksConnections
    classes, class_of = [], np.zeros(NUM_LANDMARKS, np.uint16)
    for class_id, (attr, label) in enumerate(FEATURES, start=1):
        pairs = [(c.start, c.end) for c in getattr(FaceLandmarksConnections, attr)]
        classes.append((class_id, label, pairs))
        for start, end in pairs:
            class_of[start] = class_of[end] = class_id
    return classes, class_of


class RerunLogger:
    """Writes one .rrd file; finish() puts it in place atomically, abort() removes it."""

    def __init__(self, path: Path, model_path: Path) -> None:
        try:
            import rerun as rr
        except ImportError:
            raise UsageError("--rerun needs the optional package rerun-sdk in the capture interpreter "
                             "(pip install rerun-sdk)") from None
        self.rr = rr
        self.path = Path(path)
        self.partial_path = self.path.with_name(self.path.name + ".partial")
        pose = _pose_module()
        canonical = importlib.import_module(pose.__name__.rpartition(".")[0] + ".canonical")
        self._solver = pose.PoseSolver(canonical.load_canonical_face(model_path))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.rec = rr.RecordingStream("face_mocap_capture")
            self.rec.save(str(self.partial_path))
        except Exception as exc:  # rerun raises its own types for unwritable files
            raise OutputError(f"cannot write Rerun recording '{self.path}': {exc}") from None
        classes, self._class_of = feature_classes()
        context = rr.AnnotationContext([
            rr.ClassDescription(info=rr.AnnotationInfo(id=cid, label=label), keypoint_connections=pairs)
            for cid, label, pairs in classes])
        self.rec.log("video/landmarker", context, static=True)
        self.rec.log("reconstruction", context, static=True)
        self.rec.log("reconstruction", rr.ViewCoordinates.RUB, static=True)  # MediaPipe metric space
        self._keypoints = np.arange(NUM_LANDMARKS)
        self._faces_seen = 0  # faces logged so far: those that vanish are cleared

    def log(self, frame: VideoFrame, result: FaceFrame) -> None:
        """Log one frame's image, landmarks, box and blendshapes."""
        rr, rec = self.rr, self.rec
        rec.set_time("time", duration=result.timestamp_us / 1e6)
        rec.set_time("frame_idx", sequence=result.index)
        rec.log("video/image", rr.Image(frame.rgb).compress(jpeg_quality=80))
        width, height = result.width, result.height
        metric = None
        if result.faces:
            lms = np.stack([face.landmarks for face in result.faces])
            metric = self._solver.solve(lms, (width, height)).metric_landmarks
        for i in range(self._max_logged_faces(len(result.faces))):
            base = f"video/landmarker/faces/{i}"
            if i >= len(result.faces):  # the face is gone: clear what it left behind
                rec.log(base, rr.Clear(recursive=True))
                rec.log(f"reconstruction/faces/{i}", rr.Clear(recursive=True))
                continue
            face = result.faces[i]
            pixels = face.landmarks[:, :2] * (width, height)
            rec.log(f"{base}/2d", rr.Points2D(pixels, class_ids=self._class_of, keypoint_ids=self._keypoints,
                                              radii=1.0))
            rec.log(f"{base}/bbox", rr.Boxes2D(array=np.concatenate([pixels.min(0), pixels.max(0)]),
                                               array_format=rr.Box2DFormat.XYXY))
            rec.log(f"reconstruction/faces/{i}", rr.Points3D(metric[i], class_ids=self._class_of,
                                                           keypoint_ids=self._keypoints, radii=0.05))
            for name, score in zip(BLENDSHAPE_NAMES, face.blendshapes):
                rec.log(f"blendshapes/{i}/{name}", rr.Scalars(float(score)))

    def _max_logged_faces(self, count: int) -> int:
        self._faces_seen = max(self._faces_seen, count)
        return self._faces_seen

    def finish(self) -> None:
        """Flush and move the recording into place."""
        self.rec.flush()
        self.rec.disconnect()
        os.replace(self.partial_path, self.path)

    def abort(self) -> None:
        """Leave nothing behind."""
        try:
            self.rec.disconnect()
        finally:
            self.partial_path.unlink(missing_ok=True)
