"""Live Link Face CSV: the real iPhone take, the quirks other writers have, round trips."""

import numpy as np
import pytest

from face_mocap.capture.protocol import BLENDSHAPE_NAMES
from face_mocap.capture.takes import read_take, write_take
from face_mocap.mapping import channels as ch
from face_mocap.mapping.calibration import Calibration
from face_mocap.mapping.errors import LiveLinkError
from face_mocap.mapping.livelink import (LLF_HEADER, export_take, format_timecode, parse_livelink_csv,
                                         parse_timecode, read_livelink_csv)
from face_mocap.mapping.pipeline import take_channels

CSV = "MySlate_3_Jason_Millers_iPhone.csv"


def test_real_iphone_take(interop):
    result = read_livelink_csv(interop / CSV)
    take = result.take
    assert take.frame_count == 328 and take.face_found.all()
    assert result.fps == 60.0
    assert take.duration_s == pytest.approx(327 / 60, abs=1 / 60)  # sub-frames drift a little
    assert np.all(np.diff(take.timestamps_us) > 0)
    assert result.skipped == []  # eye roll is kept too (eyeLeftRoll, eyeRightRoll)
    assert np.isnan(take.landmarks).all()  # no landmarks in a CSV
    # Values land under the right names (first data row of the file)
    first = (interop / CSV).read_text().splitlines()[1].split(",")
    header = (interop / CSV).read_text().splitlines()[0].split(",")
    row = dict(zip(header, first))
    blend = dict(zip(BLENDSHAPE_NAMES, take.blendshapes[0]))
    assert blend["jawRight"] == pytest.approx(float(row["JawRight"]))
    assert blend["mouthLeft"] == pytest.approx(float(row["MouthLeft"]))
    assert blend["eyeBlinkLeft"] == pytest.approx(float(row["EyeBlinkLeft"]))
    extra = dict(zip(take.channel_names, take.channels[0]))
    assert extra["eyeLeftYaw"] == pytest.approx(-float(row["LeftEyeYaw"]))  # see livelink_rows.LLF_SIGN
    assert extra["eyeLeftRoll"] == pytest.approx(float(row["LeftEyeRoll"]))
    assert take.metadata["start_timecode"] == "00:32:09:07.867"


def test_real_take_maps_to_channels(interop):
    take = read_livelink_csv(interop / CSV).take
    values = take_channels(take)
    assert np.isfinite(values[:, :52]).all()
    lines = (interop / CSV).read_text().splitlines()
    col = lines[0].split(",").index("TongueOut")
    tongue = [float(line.split(",")[col]) for line in lines[1:]]
    np.testing.assert_allclose(values[:, ch.CHANNEL_INDEX["tongueOut"]], tongue)  # the iPhone has it
    assert np.isfinite(values[:, ch.CHANNEL_INDEX["eyeLeftYaw"]]).all()
    assert np.isnan(values[:, ch.CHANNEL_INDEX["jawAngle"]]).all()  # needs landmarks
    assert values[:, ch.CHANNEL_INDEX["jawOpen"]].max() > 0.1


def test_round_trip_of_the_real_take(tmp_path, interop):
    first = read_livelink_csv(interop / CSV).take
    out = tmp_path / "again.csv"
    assert export_take(first, out) == 328
    lines = out.read_text().splitlines()
    assert tuple(lines[0].split(",")) == LLF_HEADER
    assert lines[1].startswith("00:32:09:07.867,61,")
    again = read_livelink_csv(out).take
    np.testing.assert_array_equal(again.timestamps_us, first.timestamps_us)
    np.testing.assert_allclose(take_channels(again), take_channels(first), atol=1e-9)
    # and through the take file format
    path = write_take(tmp_path / "t.fmtake", again)
    np.testing.assert_allclose(take_channels(read_take(path)), take_channels(first), atol=1e-6)


def test_exporting_an_iphone_take_with_a_scene_calibration_keeps_its_blinks(tmp_path, interop):
    """The scene's calibration holds MediaPipe's blink response; an iPhone's blinks already close."""
    first = read_livelink_csv(interop / CSV).take
    out = tmp_path / "calibrated.csv"
    export_take(first, out, calibration=Calibration())
    again = read_livelink_csv(out).take
    blink = ch.CHANNEL_INDEX["eyeBlinkLeft"]
    np.testing.assert_allclose(take_channels(again)[:, blink], take_channels(first)[:, blink], atol=1e-9)


def test_round_trip_of_a_mediapipe_take(tmp_path, mediapipe_dumps, dump_take, canonical):
    dump = mediapipe_dumps["face_noface"]
    take = dump_take("face_noface")
    out = tmp_path / "mp.csv"
    export_take(take, out, face=canonical)
    text = out.read_text().splitlines()
    lost = ~dump["present"]
    assert sum(1 for line in text[1:] if line.endswith(",0") and line.count(",") == 1) == lost.sum()
    back = read_livelink_csv(out, fps=float(dump["fps"])).take
    np.testing.assert_array_equal(back.face_found, dump["present"])
    src = take_channels(take, canonical)
    dst = take_channels(back)
    names = [n for n in ch.CHANNEL_NAMES if n not in ("jawAngle", "headX", "headY", "headZ")]
    idx = [ch.CHANNEL_INDEX[n] for n in names]
    np.testing.assert_allclose(dst[:, idx], src[:, idx], atol=1e-9)
    # the timecode keeps thousandths of a frame: about 38 us at 26.4 fps
    np.testing.assert_allclose(back.timestamps_us, take.timestamps_us - take.timestamps_us[0], atol=20)


def test_quirks_of_other_writers():
    text = "\n".join([
        "timecode,BlendshapeCount,eyeBlinkLeft,EyeBlinkRight,jawOpen,RightEyeYaw,LeftEyeYaw,Mystery",
        "100:00:01:00.000,5,0.5,1.02,3e-2,0.1,-0.1,7",
        "100:00:01:01.000,0",
        "100:00:01:02.500,5,0.25,0.5,1.5E-1,0.2,-0.2,7",
        "100:00:01:03.000,5,0.25,0.5",
        "garbage,5,1,1,1,1,1,1",
        "",
    ])
    result = parse_livelink_csv(text, fps=30)
    take = result.take
    assert take.frame_count == 3
    np.testing.assert_array_equal(take.face_found, [True, False, True])
    blink_r = take.blendshapes[:, BLENDSHAPE_NAMES.index("eyeBlinkRight")]
    assert blink_r[0] == pytest.approx(1.02)  # weights above 1 are kept
    assert take.blendshapes[2, BLENDSHAPE_NAMES.index("jawOpen")] == pytest.approx(0.15)
    assert np.isnan(take.blendshapes[1]).all()  # lost tracking = no value
    extra = dict(zip(take.channel_names, take.channels.T))
    # the app's eye yaw runs against its eyeLook shapes: imported negated (livelink_rows.LLF_SIGN)
    np.testing.assert_allclose(extra["eyeRightYaw"], [-0.1, np.nan, -0.2])
    np.testing.assert_allclose(extra["eyeLeftYaw"], [0.1, np.nan, 0.2])
    np.testing.assert_allclose(take.timestamps_us, [0, 33333, 83333], atol=1)
    assert any("Mystery" in s for s in result.skipped)
    assert any(s.startswith("row 5:") for s in result.skipped)
    assert any(s.startswith("row 6:") for s in result.skipped)


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ("a,b,c\n1,2,3", "Timecode"),
    ("Timecode,Foo\n00:00:00:01.000,1", "no blendshape"),
    ("Timecode,JawOpen\nnope,1", "no readable rows"),
])
def test_unusable_files_are_clear_errors(text, match):
    with pytest.raises(LiveLinkError, match=match):
        parse_livelink_csv(text)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LiveLinkError, match="cannot read"):
        read_livelink_csv(tmp_path / "nope.csv")


@pytest.mark.parametrize("code, fps", [("00:32:09:07.867", 60), ("123:59:59:29.999", 30), ("00:00:00:00.000", 24)])
def test_timecode_round_trip(code, fps):
    whole, frames = parse_timecode(code)
    assert format_timecode(whole + frames / fps, fps) == code
