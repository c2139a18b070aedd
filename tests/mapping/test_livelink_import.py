"""Live Link import streamed to a take file: same values as before, bounded memory, clear errors.

Files are real files in tmp_path; the 100,000-row import runs in a fresh interpreter so its
peak memory (VmHWM) is its own.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from face_mocap.capture.protocol import BLENDSHAPE_NAMES
from face_mocap.capture.takes import has_geometry, read_take
from face_mocap.mapping import channels as ch
from face_mocap.mapping.errors import LiveLinkError
from face_mocap.mapping.livelink import (LLF_HEADER, export_take, import_livelink_csv, parse_livelink_csv,
                                         read_livelink_csv)
from face_mocap.mapping.livelink_rows import BLOCK_ROWS, MAX_NOTES

CSV = "MySlate_3_Jason_Millers_iPhone.csv"
# sha256 over timestamps_us, frame_indices, face_found, blendshapes, channels of the real take,
# as the reader before streaming (commit 3281cd7) produced them
BEFORE_DIGEST = "97e09f1146cb3a7381d06fb9bd4dec10e46b6adacebe23e84098c96431300e87"
ARRAYS = ("timestamps_us", "frame_indices", "face_found", "blendshapes", "channels")
# timestamps, frame indices, face flag, 52 blendshapes, 8 extra channels (tongue, head, eyes)
BYTES_PER_FRAME = 8 + 8 + 1 + 52 * 4 + 10 * 4  # 10 channels: head and eye angles, eye roll
BYTES_PER_FRAME_WITH_LANDMARKS = BYTES_PER_FRAME + 478 * 3 * 4 + 16 * 4
MEMORY_BOUND_MB = 250


def _digest(take) -> str:
    """Over the arrays as the reader made them before issue 10 (eye yaw as the app writes it,
    no eye roll): everything else must be byte for byte the same."""
    names = take.channel_names
    keep = [i for i, n in enumerate(names) if n not in ("eyeLeftRoll", "eyeRightRoll")]
    signs = np.array([-1.0 if names[i] in ("eyeLeftYaw", "eyeRightYaw") else 1.0 for i in keep], np.float32)
    h = hashlib.sha256()
    for name in ARRAYS:
        array = take.channels[:, keep] * signs if name == "channels" else getattr(take, name)
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def test_real_csv_imports_as_before(tmp_path, interop):
    result = import_livelink_csv(interop / CSV, tmp_path / "real.fmtake")
    assert (result.frame_count, result.fps, result.path) == (328, 60.0, tmp_path / "real.fmtake")
    assert result.skipped == []  # eye roll is kept too
    take = read_take(result.path)
    assert take.complete and take.frame_count == 328
    assert _digest(take) == BEFORE_DIGEST, "the streamed take differs from what the reader made before"
    assert _digest(read_livelink_csv(interop / CSV).take) == BEFORE_DIGEST  # in memory: the same rows
    assert take.metadata["start_timecode"] == "00:32:09:07.867"
    assert take.metadata["source_file"] == CSV and not has_geometry(take.metadata)
    lines = (interop / CSV).read_text().splitlines()
    header = lines[0].split(",")
    for row, line in ((0, lines[1]), (-1, lines[-1])):
        values = dict(zip(header, line.split(",")))
        blend = dict(zip(BLENDSHAPE_NAMES, take.blendshapes[row]))
        assert blend["jawOpen"] == np.float32(values["JawOpen"])
        assert blend["mouthLeft"] == np.float32(values["MouthLeft"])
        assert dict(zip(take.channel_names, take.channels[row]))["eyeRightPitch"] == np.float32(values["RightEyePitch"])
    size = result.path.stat().st_size
    assert size < 328 * BYTES_PER_FRAME + 4096, (
        f"{size} bytes for 328 frames ({size / 328:.0f} bytes/frame): landmarks are stored "
        f"({BYTES_PER_FRAME_WITH_LANDMARKS} bytes/frame with them, {BYTES_PER_FRAME} without)")
    assert take.landmarks.shape == (328, 478, 3) and not take.landmarks.flags.writeable


def _big_csv(path: Path, source: Path, rows: int) -> dict:
    """The real take's rows repeated `rows` times with moving timecodes and jaw, every 997th lost."""
    with open(source, newline="") as fh:
        header, *real = list(csv.reader(fh))
    jaw = header.index("JawOpen")
    expected = {"lost": 0}
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for i in range(rows):
            sub = (i * 7) % 1000
            code = f"{1 + i // 216000:02d}:{i // 3600 % 60:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{sub:03d}"
            if i % 997 == 500:
                writer.writerow([code, "0"])
                expected["lost"] += 1
                continue
            row = list(real[i % len(real)])
            row[0], row[jaw] = code, f"{i / rows:.10f}"
            writer.writerow(row)
            expected.setdefault("first", row)
            expected["last"] = row
    expected["header"] = header
    return expected


_CHILD = r"""
import importlib.util, json, resource, sys
root, csv_path, take_path = sys.argv[1:4]

def peak_kb():
    try:
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

spec = importlib.util.spec_from_file_location("face_mocap", root + "/__init__.py", submodule_search_locations=[root])
module = importlib.util.module_from_spec(spec)
sys.modules["face_mocap"] = module
spec.loader.exec_module(module)
from face_mocap.mapping.livelink import import_livelink_csv
before = peak_kb()
result = import_livelink_csv(csv_path, take_path)
print(json.dumps({"before_kb": before, "peak_kb": peak_kb(), "frames": result.frame_count,
                  "fps": result.fps, "notes": result.skipped_count}))
"""


def test_100k_rows_import_with_bounded_memory(tmp_path, interop, repo_root):
    rows = 100_000
    source = tmp_path / "long.csv"
    expected = _big_csv(source, interop / CSV, rows)
    out = tmp_path / "long.fmtake"
    run = subprocess.run([sys.executable, "-c", _CHILD, str(repo_root), str(source), str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    peak_mb, base_mb = report["peak_kb"] / 1024, report["before_kb"] / 1024
    csv_mb = source.stat().st_size / 1e6
    assert peak_mb < MEMORY_BOUND_MB, (
        f"peak RSS {peak_mb:.0f} MB importing {rows} rows ({csv_mb:.1f} MB CSV); bound {MEMORY_BOUND_MB} MB; "
        f"{base_mb:.0f} MB after imports, before reading")
    assert report["frames"] == rows and report["fps"] == 60.0 and report["notes"] == 0
    size = out.stat().st_size
    assert size < rows * BYTES_PER_FRAME * 1.01, (
        f"take of {rows} frames is {size / 1e6:.1f} MB = {size / rows:.0f} bytes/frame; "
        f"{BYTES_PER_FRAME} bytes/frame expected without landmarks ({BYTES_PER_FRAME_WITH_LANDMARKS} with)")
    print(f"100k rows: peak RSS {peak_mb:.0f} MB ({base_mb:.0f} MB before reading), CSV {csv_mb:.1f} MB, "
          f"take {size / 1e6:.1f} MB ({size / rows:.0f} bytes/frame)")
    take = read_take(out)
    assert take.complete and take.frame_count == rows
    assert int((~take.face_found).sum()) == expected["lost"]
    header = expected["header"]
    jaw = BLENDSHAPE_NAMES.index("jawOpen")
    for index, row in ((int(np.flatnonzero(take.face_found)[0]), expected["first"]),
                       (int(np.flatnonzero(take.face_found)[-1]), expected["last"])):
        values = dict(zip(header, row))
        assert take.blendshapes[index, jaw] == np.float32(values["JawOpen"])
        yaw = dict(zip(take.channel_names, take.channels[index]))["eyeLeftYaw"]
        assert yaw == -np.float32(values["LeftEyeYaw"])  # the app's eye yaw, negated (LLF_SIGN)
    # the last row is 99,999 frames and a sub-frame after the first
    last_s = 99_999 // 60 + (99_999 % 60 + (99_999 * 7 % 1000) / 1000) / 60
    assert abs(int(take.timestamps_us[-1]) - round(last_s * 1e6)) <= 1
    assert np.all(np.diff(take.timestamps_us) > 0)


def _row(code: str = "00:00:01:02.000", value: str = "0.5") -> str:
    return ",".join([code, "61"] + [value] + ["0.25"] * 60)


_HEADER = ",".join(LLF_HEADER)
_GOOD = "\n".join([_HEADER] + [_row(f"00:00:01:{i:02d}.000") for i in range(3)]) + "\n"
CORPUS = {  # name: (file bytes, what the message must say)
    "empty": (b"", "empty"),
    "header only": (_HEADER.encode() + b"\n", "header but no data rows"),
    "truncated in the first row": ((_HEADER + "\n" + _row()[:40]).encode(), r"row 2: \d+ of 63 values"),
    "truncated in the header": (_HEADER[:9].encode(), "no blendshape or head columns"),
    "garbage binary": (random.Random(8).randbytes(20_000), "not UTF-8 text"),
    "not a CSV at all": (b"hello world\n" * 3, "no Timecode column"),
    "huge field": ((_HEADER + "\n" + _row(value="9" * 200_000)).encode(), r"row 2 is not valid CSV: field larger"),
    "a line of 2 MB": (b"Timecode," + b"a" * (2 << 20), "longer than 1,048,576 characters"),
    "5000-digit hour": ((_HEADER + "\n" + _row("1" * 5000 + ":00:01:02.000")).encode(), "5000 digits of hours"),
    "values beyond float32": ((_HEADER + "\n" + _row(value="1e39")).encode(), r"1e\+39 is beyond float32's range"),
    "NaN text": ((_HEADER + "\n" + _row(value="NaN")).encode(), "nan is not a finite number"),
    "inf text": ((_HEADER + "\n" + _row(value="-inf")).encode(), "-inf is not a finite number"),
    "a word for a number": ((_HEADER + "\n" + _row(value="half")).encode(), r"column 'EyeBlinkLeft': 'half' is not"),
    "NUL in a value": ((_HEADER + "\n" + _row(value="0\x005")).encode(), r"'0\\x005' is not a number"),
    "too many values": ((_HEADER + "\n" + _row() + ",1,2").encode(), "65 values, but the header names 63"),
    "bad timecode": ((_HEADER + "\n" + _row("yesterday")).encode(), "'yesterday' is not a timecode"),
    "Latin-1 text": ((_HEADER + "\n" + _row()).encode() + "\n# café".encode("latin-1"), "not UTF-8 text"),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_damaged_csv_is_a_clear_error_and_leaves_no_take(tmp_path, name):
    data, match = CORPUS[name]
    source = tmp_path / "damaged.csv"
    source.write_bytes(data)
    out = tmp_path / "damaged.fmtake"
    with pytest.raises(LiveLinkError, match=match) as info:
        import_livelink_csv(source, out)
    assert len(str(info.value)) < 300, f"message too long: {str(info.value)[:400]}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.csv"], "something was left behind"
    with pytest.raises(LiveLinkError, match=match):
        read_livelink_csv(source)


def test_error_after_many_good_blocks_leaves_nothing(tmp_path):
    """A file that breaks after several written blocks: the half-written take is removed."""
    good = [_row(f"00:{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000") for i in range(3 * BLOCK_ROWS)]
    source = tmp_path / "broken_late.csv"
    source.write_text("\n".join([_HEADER, *good, _row("01:00:00:00.000", "7" * 200_000)]) + "\n")
    with pytest.raises(LiveLinkError, match=f"row {3 * BLOCK_ROWS + 2} is not valid CSV"):
        import_livelink_csv(source, tmp_path / "late.fmtake", fps=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken_late.csv"]


def test_bad_rows_are_skipped_with_capped_notes(tmp_path):
    lines = [_HEADER]
    for i in range(200):
        code = f"00:00:{i // 60:02d}:{i % 60:02d}.000"
        lines.append(_row(code, "1e39") if i % 4 == 1 else _row(code))
    lines.append(_row("00:00:00:00.000"))  # back in time
    source = tmp_path / "mixed.csv"
    source.write_text("\n".join(lines) + "\n")
    result = import_livelink_csv(source, tmp_path / "mixed.fmtake")
    assert result.frame_count == 150
    # 50 rows of values beyond float32, one back in time
    assert result.skipped_count == 51 and len(result.skipped) == MAX_NOTES
    assert result.skipped[0] == "row 3, column 'EyeBlinkLeft': 1e+39 is beyond float32's range"
    assert result.summary().endswith("and 46 more")
    take = read_take(result.path)
    assert np.isfinite(take.blendshapes).all()  # nothing became inf
    assert np.all(np.diff(take.timestamps_us) > 0)


def test_repeated_and_backward_timecodes_are_skipped():
    text = "\n".join([_HEADER, _row("00:00:01:02.000"), _row("00:00:01:02.000"), _row("00:00:01:01.000"),
                      _row("00:00:01:03.000")])
    result = parse_livelink_csv(text, fps=30)
    assert result.take.frame_count == 2
    assert [n for n in result.skipped if n.startswith("row")] == [
        "row 3: the timecode does not move forward (it repeats or goes back)",
        "row 4: the timecode does not move forward (it repeats or goes back)"]


@pytest.mark.parametrize("fps", [0, -30, float("nan"), float("inf"), 1e9, "sixty"])
def test_a_bad_frame_rate_is_refused(fps):
    with pytest.raises(LiveLinkError, match="frame rate"):
        parse_livelink_csv(_GOOD, fps=fps)


def test_not_a_regular_file(tmp_path):
    with pytest.raises(LiveLinkError, match="is a directory"):
        import_livelink_csv(tmp_path, tmp_path / "x.fmtake")
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(LiveLinkError, match="not a regular file"):  # refused before open(): never blocks
        import_livelink_csv(fifo, tmp_path / "y.fmtake")


def test_progress_rises_to_the_end_and_cancel_leaves_nothing(tmp_path):
    rows = [_row(f"00:{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}.000") for i in range(5 * BLOCK_ROWS)]
    source = tmp_path / "progress.csv"
    source.write_text("\n".join([_HEADER, *rows]) + "\n")
    seen: list[float] = []
    import_livelink_csv(source, tmp_path / "done.fmtake", progress=seen.append)
    assert len(seen) == 10, seen  # five blocks, read twice (the fps guess, then the take)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and 0.4 < seen[4] <= 0.5, seen
    with pytest.raises(LiveLinkError, match="cancelled"):
        import_livelink_csv(source, tmp_path / "cancelled.fmtake", fps=60, progress=lambda f: f < 0.5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.fmtake", "progress.csv"]


def test_export_writes_whole_files_only(tmp_path, interop):
    take = read_livelink_csv(interop / CSV).take
    with pytest.raises(LiveLinkError, match="cannot write"):
        export_take(take, tmp_path / "missing" / "out.csv")
    (tmp_path / "a_folder.csv").mkdir()
    with pytest.raises(LiveLinkError, match="cannot write"):
        export_take(take, tmp_path / "a_folder.csv")
    assert export_take(take, tmp_path / "out.csv") == 328
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder.csv", "out.csv"]  # no .partial left
    again = import_livelink_csv(tmp_path / "out.csv", tmp_path / "again.fmtake")
    assert again.frame_count == 328 and again.skipped_count == 0


def test_a_take_that_cannot_be_written_is_a_clear_error(tmp_path, interop):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the takes folder should be")
    with pytest.raises(LiveLinkError, match="cannot import"):
        import_livelink_csv(interop / CSV, blocker / "take.fmtake")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


def test_disk_full_at_the_end_keeps_nothing(tmp_path, interop, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)  # the take's last step before it is renamed into place
    with pytest.raises(LiveLinkError, match="disk full; nothing was kept"):
        import_livelink_csv(interop / CSV, tmp_path / "full.fmtake")
    assert list(tmp_path.iterdir()) == []


def test_eye_yaw_agrees_with_the_eye_look_shapes_of_the_real_take(interop):
    """Issue 10, item 5: in the app's files LeftEyeYaw/RightEyeYaw run against the eyeLook
    shapes; imported, a positive yaw must look to the subject's left like the shapes say."""
    from face_mocap.mapping.pipeline import take_channels

    take = read_livelink_csv(interop / "MySlate_3_Jason_Millers_iPhone.csv").take
    raw = take_channels(take)
    col = lambda name: raw[:, ch.CHANNEL_INDEX[name]]  # noqa: E731
    # looking to the subject's left: the left eye looks out, the right eye looks in
    left_gaze = {"eyeLeftYaw": col("eyeLookOutLeft") - col("eyeLookInLeft"),
                 "eyeRightYaw": col("eyeLookInRight") - col("eyeLookOutRight")}
    for yaw, shapes in left_gaze.items():
        assert np.corrcoef(col(yaw), shapes)[0, 1] > 0.9, yaw
    for pitch, side in (("eyeLeftPitch", "Left"), ("eyeRightPitch", "Right")):  # > 0 looks down
        assert np.corrcoef(col(pitch), col(f"eyeLookDown{side}") - col(f"eyeLookUp{side}"))[0, 1] > 0.9


def test_eye_roll_is_kept_and_exported_back_with_the_apps_signs(interop, tmp_path):
    source = interop / "MySlate_3_Jason_Millers_iPhone.csv"
    take = read_livelink_csv(source).take
    assert {"eyeLeftRoll", "eyeRightRoll"} <= set(take.channel_names)
    out = tmp_path / "again.csv"
    export_take(take, out)
    with open(source, newline="") as a, open(out, newline="") as b:
        before, after = list(csv.DictReader(a)), list(csv.DictReader(b))
    for name in ("LeftEyeRoll", "RightEyeRoll", "LeftEyeYaw", "RightEyeYaw", "LeftEyePitch"):
        np.testing.assert_allclose([float(r[name]) for r in after], [float(r[name]) for r in before], atol=1e-6)
    assert max(abs(float(r["LeftEyeRoll"])) for r in before) > 0.01  # the take really has eye roll


def test_import_counts_lost_rows_and_the_longest_gap_and_refuses_a_take_without_a_face(tmp_path):
    header = "Timecode,BlendShapeCount,JawOpen,EyeBlinkLeft\n"
    rows = ["00:00:00:00.000,2,0.1,0.0", "00:00:00:01.000,0", "00:00:00:02.000,0", "00:00:00:03.000,0",
            "00:00:00:04.000,2,0.2,0.0", "00:00:00:05.000,0", "00:00:00:06.000,2,0.3,0.0"]
    result = parse_livelink_csv(header + "\n".join(rows) + "\n", fps=60)
    assert result.lost_rows == 4 and result.longest_gap_s == pytest.approx(4 / 60)
    assert result.summary() == "4 of 7 rows had lost tracking (longest gap 0.07 s)"
    only_lost = header + "".join(f"00:00:00:{i:02d}.000,0\n" for i in range(5))
    with pytest.raises(LiveLinkError, match="all 5 rows are lost tracking"):
        parse_livelink_csv(only_lost, fps=60)
    csv_path = tmp_path / "lost.csv"
    csv_path.write_text(only_lost)
    with pytest.raises(LiveLinkError, match="never saw a face"):
        import_livelink_csv(csv_path, tmp_path / "lost.fmtake", fps=60)
    assert list(tmp_path.iterdir()) == [csv_path]  # no take, no partial file
