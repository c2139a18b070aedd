"""Timecode maths: parsing, frame counts (drop-frame included) and placing a take in a scene."""

from __future__ import annotations

import pytest

from face_mocap.capture.timecode import (Timecode, TimecodeError, clock_rate, exact_rate, frame_in_scene, scene_origin,
                                         take_start)

NTSC_24, NTSC_30, NTSC_60 = 24000 / 1001, 30000 / 1001, 60000 / 1001


@pytest.mark.parametrize("text, fields", [
    ("00:32:09:07.867", (0, 32, 9, 7.867, False)),
    ("01:00:00;02", (1, 0, 0, 2.0, True)),
    ("123:59:59:29", (123, 59, 59, 29.0, False)),
    (" 10:00:00:00 ", (10, 0, 0, 0.0, False)),
])
def test_parse(text, fields):
    code = Timecode.parse(text)
    assert (code.hours, code.minutes, code.seconds, code.frames, code.drop_frame) == pytest.approx(fields)


@pytest.mark.parametrize("text, match", [
    ("yesterday", "'yesterday' is not a timecode like"),
    ("00:00:00", "is not a timecode"),
    ("1" * 5000 + ":00:00:00", "5000 digits of hours"),
    ("00:123:00:00", "3 digits of minutes"),
])
def test_bad_text_says_what_is_wrong(text, match):
    with pytest.raises(TimecodeError, match=match):
        Timecode.parse(text)


@pytest.mark.parametrize("rate, expected", [(23.976, NTSC_24), (23.98, NTSC_24), (29.97, NTSC_30),
                                            (59.94, NTSC_60), (NTSC_30, NTSC_30), (25, 25.0), (24, 24.0)])
def test_exact_rate(rate, expected):
    assert exact_rate(rate) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text, rate, frames", [
    ("00:00:01:00", 24, 24),
    ("01:00:00:00", 23.976, 86_400),  # non-drop 23.976 counts 24 frames a timecode second
    ("01:00:00:00", 25, 90_000),
    ("01:00:00:00", 29.97, 108_000),  # non-drop 29.97
    ("00:01:00;02", 29.97, 1_800),  # the first frame number after the two dropped ones
    ("00:00:59;29", 29.97, 1_799),
    ("00:10:00;00", 29.97, 17_982),  # tenth minute: nothing dropped
    ("01:00:00;00", 29.97, 107_892),  # an hour of drop-frame is 108 frames short
    ("01:00:00;00", 59.94, 215_784),
    ("00:32:09:07.867", 60, (32 * 60 + 9) * 60 + 7.867),  # sub-frames are kept
])
def test_frame_count(text, rate, frames):
    assert Timecode.parse(text).frame_count(rate) == pytest.approx(frames)


def test_drop_frame_keeps_up_with_the_clock():
    """An hour of 29.97 drop-frame timecode is an hour of real time to 3.6 ms; non-drop is 3.6 s slow."""
    assert Timecode.parse("01:00:00;00").seconds_at(29.97) == pytest.approx(3600.0, abs=0.004)
    assert Timecode.parse("01:00:00:00").seconds_at(29.97) == pytest.approx(3603.6)
    assert Timecode.parse("01:00:00:00").seconds_at(23.976) == pytest.approx(3603.6)


@pytest.mark.parametrize("text, rate, match", [
    ("00:01:00;00", 29.97, "does not exist in drop-frame"),
    ("00:01:00;01", 29.97, "does not exist in drop-frame"),
    ("00:01:00;03", 59.94, "does not exist in drop-frame"),
    ("00:00:00;05", 25, "needs 29.97 or 59.94"),
    ("00:00:00;05", 30, "needs 29.97 or 59.94"),
    ("00:00:00:24", 23.976, "frames to 23"),
    ("00:61:00:00", 24, "minutes and seconds go to 59"),
])
def test_impossible_timecodes(text, rate, match):
    with pytest.raises(TimecodeError, match=match):
        Timecode.parse(text).frame_count(rate)


@pytest.mark.parametrize("rate", [29.97, 59.94])
def test_drop_frame_round_trip_over_twenty_minutes(rate):
    """Every frame count of 20 minutes -> timecode -> the same count, and the timecodes never skip
    a frame number except the dropped ones."""
    previous = None
    for count in range(0, round(20 * 60 * exact_rate(rate))):
        code = Timecode.from_frame_count(count, rate)
        assert code.drop_frame
        assert Timecode.parse(str(code)).frame_count(rate) == count
        if previous is not None and code.frames != 0 and code.frames != 2 * (round(rate) // 30):
            assert code.frames == previous.frames + 1
        previous = code


def test_from_frame_count_non_drop():
    assert str(Timecode.from_frame_count(86_400, 23.976)) == "01:00:00:00"
    assert str(Timecode.from_frame_count(1_800, 29.97, drop_frame=False)) == "00:01:00:00"
    assert str(Timecode.from_frame_count(1_800, 29.97)) == "00:01:00;02"
    assert str(Timecode.from_frame_count(100.5, 25)) == "00:00:04:00.500"


@pytest.mark.parametrize("rate, expected", [(26.4, 26.0), (23.976, NTSC_24), (29.97, NTSC_30), (25, 25.0),
                                            (59.94, NTSC_60), (0.3, 1.0)])
def test_clock_rate_counts_whole_frames_but_keeps_ntsc(rate, expected):
    assert clock_rate(rate) == pytest.approx(expected, rel=1e-12)


def test_from_seconds_is_a_wall_clock():
    assert str(Timecode.from_seconds(13 * 3600 + 5 * 60 + 7.5, 25)) == "13:05:07:12"
    assert Timecode.from_seconds(3600.0, 29.97).seconds_at(29.97) == pytest.approx(3600.0, abs=1 / 29.97)


@pytest.mark.parametrize("text, rate, scene_fps, frame", [
    ("01:00:00:00", 23.976, 24 / 1.001, 86_400),  # same rate: frame for frame
    ("01:00:00:00", 23.976, 23.976, 86_400),
    ("01:00:00:00", 23.976, 24, 86_400 * 1.001),  # 24 fps scene: the same real time (3603.6 s)
    ("01:00:00;00", 29.97, 30 / 1.001, 107_892),
    ("01:00:00;00", 29.97, 25, 107_892 / (30 / 1.001) * 25),
    ("00:00:10:00", 30, 60, 600),
    ("00:32:09:07.867", 60, 30, ((32 * 60 + 9) * 60 + 7.867) / 2),
])
def test_scene_frame(text, rate, scene_fps, frame):
    assert Timecode.parse(text).scene_frame(rate, scene_fps) == pytest.approx(frame, rel=1e-12)


def test_take_start_from_metadata():
    code, rate = take_start({"start_timecode": "01:00:00;00", "timecode_rate": 29.97, "fps": 30.0})
    assert code.drop_frame and rate == 29.97
    # a Live Link take written before timecode_rate existed: its fps is the timecode's rate
    code, rate = take_start({"start_timecode": "00:32:09:07.867", "fps": 60.0})
    assert (code.minutes, rate) == (32, 60.0)
    assert take_start({"fps": 30.0}) is None
    assert take_start({"start_timecode": "garbage", "fps": 30.0}) is None
    assert take_start({"start_timecode": "00:00:00:40", "timecode_rate": 30}) is None  # no frame 40 at 30 fps


def test_a_take_lands_relative_to_the_scenes_origin():
    """Live Link's 00:32:09:07.867 at 60 fps in a 30 fps scene whose frame 1 is 00:32:00:00."""
    code = Timecode.parse("00:32:09:07.867")
    origin = Timecode.parse("00:32:00:00")
    assert frame_in_scene(code, 60, origin, 1, 30) == pytest.approx(1 + (9 + 7.867 / 60) * 30)
    # a 29.97 drop-frame take five seconds after a 24 fps scene's origin hour (drop-frame runs
    # 3.6 ms an hour behind the clock: 0.09 frames at 24 fps after an hour)
    code = Timecode.parse("01:00:05;00")
    origin = scene_origin(code, 24)
    assert str(origin) == "01:00:00:00"
    assert frame_in_scene(code, 29.97, origin, 1001, 24) == pytest.approx(1001 + 5 * 24, abs=0.1)
    assert str(scene_origin(code, 29.97)) == "01:00:00;00"  # drop-frame like the scene's clock
    assert frame_in_scene(code, 29.97, scene_origin(code, 29.97), 1, 29.97) == 1 + 150 - 0  # frame for frame
