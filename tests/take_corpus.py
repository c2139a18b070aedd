"""Take files for tests: synthetic frames, crashed recordings and a corpus of damaged files.

Shared by the capture and Blender tiers (tests/ is on sys.path through tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import json
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

from face_mocap.capture import takes
from face_mocap.capture.protocol import Face, FaceFrame

FRAME_US = 16_667  # 60 fps
CONFTEST = Path(__file__).resolve().parent / "conftest.py"  # imports this checkout as face_mocap
_HOLDER = """
import runpy, sys
runpy.run_path(sys.argv[1])  # tests/conftest.py imports this checkout as the package face_mocap
from face_mocap.capture.protocol import FaceFrame
from face_mocap.capture.takes import TakeWriter
writer = TakeWriter(sys.argv[2], {"name": "other"}, flush_interval_s=0)
for i in range(int(sys.argv[3])):
    writer.append(FaceFrame(i, i * 1000, 640, 480, []))
print("writing", flush=True)
sys.stdin.readline()
"""


def read_chars() -> int:
    """Bytes this process has read through read() calls so far (Linux /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def peak_of(action) -> tuple[object, int]:
    """The result of action() and the peak of memory allocated meanwhile (Python and numpy), in bytes."""
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def frame(i: int, face: bool = True) -> FaceFrame:
    faces = [Face(landmarks=np.full((478, 3), i, np.float32), blendshapes=np.full(52, i / 100, np.float32),
                  transform=np.eye(4, dtype=np.float32) * (i + 1))] if face else []
    return FaceFrame(index=i, timestamp_us=i * 33_333, width=640, height=480, faces=faces)


def synthetic_arrays(start: int, count: int) -> dict[str, np.ndarray]:
    """Frames start..start+count-1 whose index can be read back from every array."""
    index = np.arange(start, start + count, dtype=np.int64)
    arrays = takes.empty_arrays(count)
    arrays["landmarks"] = np.zeros((count, 478, 3), np.float32)
    arrays["landmarks"][:, 0, 0] = index
    arrays["timestamps_us"] = index * FRAME_US
    arrays["frame_indices"] = index
    arrays["face_found"] = index % 7 != 0
    arrays["blendshapes"] = np.zeros((count, 52), np.float32)
    arrays["blendshapes"][:, 1] = index
    arrays["transforms"] = np.zeros((count, 4, 4), np.float32)
    return arrays


def crashed_partial(path: Path, frames: int, block: int = 10_000, torn_tail: bool = True) -> Path:
    """A .partial left by a recording that died: `frames` frames in bounded chunks, no END_, a torn last chunk."""
    writer = takes.TakeWriter(path, {"name": path.stem, "source": "webcam:0", "image_size": [640, 480]})
    for start in range(0, frames, block):
        writer.append_arrays(synthetic_arrays(start, min(block, frames - start)))
    writer.close()  # the process ends here: the lock goes with it, END_ is never written
    if torn_tail:
        with open(writer.partial_path, "ab") as file:
            file.write(takes.chunk(takes.FRAMES, takes.frames_payload(synthetic_arrays(frames, 3), 0))[:-100])
    return writer.partial_path


def repeated_take(source: Path, repeats: int, out: Path) -> int:
    """`source`'s frames `repeats` times over, end to end (timestamps and indices continued), written
    through the take writer in full chunks as an import writes them (so chunks start anywhere in
    the source, not with it); the frame count."""
    take = takes.read_take(source)
    step_us = int(take.timestamps_us[-1] - take.timestamps_us[0]) + int(round(1e6 / take.metadata["fps"]))
    writer = takes.TakeWriter(out, take.metadata)
    pending: list[dict[str, np.ndarray]] = []
    for k in range(repeats):
        arrays = take.arrays()
        arrays["timestamps_us"] = arrays["timestamps_us"] + k * step_us
        arrays["frame_indices"] = arrays["frame_indices"] + k * take.frame_count
        pending.append(arrays)
        queued = sum(len(block["timestamps_us"]) for block in pending)
        if queued >= takes.MAX_CHUNK_FRAMES or k == repeats - 1:
            joined = {name: np.concatenate([block[name] for block in pending]) for name in arrays}
            whole = queued if k == repeats - 1 else queued - queued % takes.MAX_CHUNK_FRAMES
            writer.append_arrays({name: array[:whole] for name, array in joined.items()})
            pending = [{name: array[whole:] for name, array in joined.items()}]
    writer.finish()
    return take.frame_count * repeats


@contextlib.contextmanager
def recording_elsewhere(path: Path, frames: int):
    """Another process (another Blender) recording `frames` frames into `path`; it is killed
    (a crash: no END_, its lock released by the OS) when the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(CONFTEST), str(path), str(frames)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "writing", "the other process did not start recording"
        yield holder
    finally:
        holder.kill()
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()


def raw_take(meta: bytes | dict | list, *chunks: bytes) -> bytes:
    """A take file from a META payload (JSON-encoded unless bytes) and further raw chunks."""
    payload = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return takes.MAGIC + takes.chunk(takes.META, payload) + b"".join(chunks)


def header(tag: bytes, length: int, crc: int = 0) -> bytes:
    return struct.pack("<4sII", tag, length, crc)


def good_take_bytes(chunks: int = 3, per_chunk: int = 5, finished: bool = True, meta: dict | None = None) -> bytes:
    """A small valid take (or an unfinished one) as bytes."""
    meta = {"format_version": 1, "name": "good", "image_size": [640, 480], **(meta or {})}
    body = [takes.chunk(takes.FRAMES, takes.frames_payload(synthetic_arrays(c * per_chunk, per_chunk), 0))
            for c in range(chunks)]
    if finished:
        body.append(takes.chunk(takes.END, json.dumps({"frame_count": chunks * per_chunk, "metadata": {}}).encode()))
    return raw_take(meta, *body)


def _end(value) -> bytes:
    return takes.chunk(takes.END, json.dumps(value).encode())


def damaged_corpus() -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, expectation): "error" when read_take raises TakeError,
    "incomplete" when it returns what it could with complete False and a problem, "payload"
    when only frame data is damaged (read_take: incomplete; take_info, which reads no frames: complete)."""
    v1 = {"format_version": 1}
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    frames = takes.chunk(takes.FRAMES, takes.frames_payload(synthetic_arrays(0, 4), 0))
    good = good_take_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x55
    return {
        "empty": (b"", "error"),
        "garbage": (np.random.default_rng(1).bytes(5000), "error"),
        "magic_then_garbage": (takes.MAGIC + np.random.default_rng(2).bytes(5000), "error"),
        "metadata_a_list": (raw_take([1, 2, 3]), "error"),
        "metadata_a_string": (raw_take(b'"take"'), "error"),
        "metadata_null": (raw_take(b"null"), "error"),
        "channel_names_an_int": (raw_take({**v1, "channel_names": 5}), "error"),
        "channel_names_of_ints": (raw_take({**v1, "channel_names": [1, 2]}), "error"),
        "channel_names_huge": (raw_take({**v1, "channel_names": ["c"] * 100_000}), "error"),
        "image_size_text": (raw_take({**v1, "image_size": "640x480"}), "error"),
        "image_size_negative": (raw_take({**v1, "image_size": [-1, 480]}), "error"),
        "image_size_huge": (raw_take(b'{"format_version": 1, "image_size": [1e308, 480]}'), "error"),
        "image_size_bools": (raw_take({**v1, "image_size": [True, False]}), "error"),
        "fps_nan": (raw_take(b'{"format_version": 1, "fps": NaN}'), "error"),
        "fps_infinite": (raw_take(b'{"format_version": 1, "fps": 1e999}'), "error"),
        "fps_a_dict": (raw_take({**v1, "fps": {}}), "error"),
        "name_a_list": (raw_take({**v1, "name": ["a"]}), "error"),
        "version_text": (raw_take({"format_version": "1"}), "error"),
        "version_missing": (raw_take({}), "error"),
        "version_5000_digits": (raw_take(b'{"format_version": 1' + b"0" * 5000 + b"}"), "error"),
        "deep_json": (raw_take(deep), "error"),
        "deep_json_inside": (raw_take(b'{"format_version": 1, "x": ' + deep + b"}"), "error"),
        "not_utf8": (raw_take(b'{"format_version": 1, "name": "\xff\xfe"}'), "error"),
        "huge_field": (raw_take({**v1, "name": "x" * (17 * 1024 * 1024)}), "error"),
        "meta_claims_4gb": (takes.MAGIC + header(takes.META, 0xFFFFFFFF) + b"{}", "error"),
        "meta_bad_checksum": (takes.MAGIC + header(takes.META, 2, 12345) + b"{}", "error"),
        "frames_first": (takes.MAGIC + frames, "error"),
        "geometry_flag_wrong_version": (raw_take({**v1, "face_geometry": False}), "error"),
        "frame_chunk_claims_4gb": (raw_take(v1, frames, header(takes.FRAMES, 0xFFFFFFFF), b"\x01\x00\x00\x00"),
                                   "incomplete"),
        "frame_count_lies": (raw_take(v1, frames[:12] + struct.pack("<I", 999) + frames[16:]), "incomplete"),
        "unknown_chunk": (raw_take(v1, frames, header(b"ZZZZ", 4) + b"abcd"), "incomplete"),
        "second_header": (raw_take(v1, frames, takes.chunk(takes.META, b"{}")), "incomplete"),
        "bit_flip_in_frames": (bytes(flipped), "payload"),
        "end_metadata_a_list": (raw_take(v1, frames, _end({"frame_count": 4, "metadata": [1]})), "incomplete"),
        "end_a_number": (raw_take(v1, frames, _end(7)), "incomplete"),
        "end_count_negative": (raw_take(v1, frames, _end({"frame_count": -1})), "incomplete"),
        "end_count_huge": (raw_take(v1, frames, takes.chunk(takes.END, b'{"frame_count": 1e400}')), "incomplete"),
        "end_count_wrong": (raw_take(v1, frames, _end({"frame_count": 5, "metadata": {}})), "incomplete"),
        "end_changes_channels": (raw_take(v1, frames, _end({"frame_count": 4, "metadata": {"channel_names": ["a"]}})),
                                 "incomplete"),
        "end_bad_image_size": (raw_take(v1, frames, _end({"frame_count": 4, "metadata": {"image_size": "big"}})),
                               "incomplete"),
        "end_deep_json": (raw_take(v1, frames, takes.chunk(takes.END, deep)), "incomplete"),
        "end_not_utf8": (raw_take(v1, frames, takes.chunk(takes.END, b"\xff\xff")), "incomplete"),
    }
