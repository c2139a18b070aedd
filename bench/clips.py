"""Longer test clips for benchmarks, made on the fly in a temporary folder (never committed)."""

from __future__ import annotations

from pathlib import Path


def repeated_clip(clip: Path, repeats: int, out: Path) -> tuple[Path, int]:
    """`clip` played `repeats` times, end to end, re-encoded with OpenCV (mp4v); (path, frames)."""
    import cv2

    if repeats == 1:
        return clip, int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    source = cv2.VideoCapture(str(clip))
    fps = source.get(cv2.CAP_PROP_FPS)
    frames = []
    while (item := source.read())[0]:
        frames.append(item[1])
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for _ in range(repeats):
        for frame in frames:
            writer.write(frame)
    writer.release()
    return out, len(frames) * repeats


if __name__ == "__main__":  # <capture env python> bench/clips.py CLIP REPEATS OUT: for benches run in bpy
    import sys

    print(repeated_clip(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))[1])
