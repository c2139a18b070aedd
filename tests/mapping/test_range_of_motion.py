"""Range-of-motion calibration on real footage: live (start/finish while capturing) and from a
stretch of a take; each shape's observed maximum maps to 1, the neutral stays 0."""

import numpy as np
import pytest

from face_mocap.mapping import channels as ch
from face_mocap.mapping.autodetect import auto_detect
from face_mocap.mapping.calibration import Calibration
from face_mocap.mapping.errors import MappingError
from face_mocap.mapping.pipeline import LivePipeline, map_take, range_from_take

SMILE = ch.CHANNEL_INDEX["mouthSmileLeft"]


def _table():
    table, _ = auto_detect(list(ch.ARKIT_NAMES), [])
    return table


def _frame_arrays(take, i):
    found = take.face_found[i]
    return (take.timestamps_us[i] / 1e6, take.landmarks[i] if found else None,
            take.blendshapes[i] if found else None, take.image_size)


def test_live_range_of_motion_brings_the_smile_to_one(dump_take, canonical):
    """single_face: a neutral man (frames 0-15) who breaks into a broad smile (0.90 raw at most)."""
    take = dump_take("single_face")
    live = LivePipeline(canonical, _table(), smoothing="off")
    for i in range(10):
        live.process_arrays(*_frame_arrays(take, i))
    live.calibrate_recent(0.3)
    neutral_only = [live.process_arrays(*_frame_arrays(take, i)).channels[SMILE] for i in range(10, take.frame_count)]
    live.start_range()
    assert live.measuring_range
    for i in range(take.frame_count):  # the performer runs through their extremes
        live.process_arrays(*_frame_arrays(take, i))
    cal, changed = live.finish_range()
    assert not live.measuring_range and "mouthSmileLeft" in changed
    after = [live.process_arrays(*_frame_arrays(take, i)).channels[SMILE] for i in range(take.frame_count)]
    print(f"single_face: smile ceiling after neutral {max(neutral_only):.3f}, after range of motion {max(after):.3f}")
    assert max(after) == pytest.approx(1.0, abs=0.02) and max(neutral_only) < 0.95
    assert min(after[:10]) == pytest.approx(0.0, abs=0.02)  # the neutral still reads 0
    assert Calibration.from_json(cal.to_json()).channels["mouthSmileLeft"].range == changed["mouthSmileLeft"]


def test_range_from_a_stretch_of_a_take(dump_take, canonical):
    take = dump_take("single_face")
    cal, changed = range_from_take(take, canonical)
    assert changed["mouthSmileLeft"][1] > 0.8 and "cheekPuff" not in changed  # cheekPuff never moves
    baked = map_take(take, _table(), cal, "off", face=canonical)
    smile = next(v for t, v in baked.items() if t.name == "mouthSmileLeft")
    assert np.nanmax(smile) == pytest.approx(1.0)


def test_a_range_without_a_face_is_refused(dump_take, canonical):
    live = LivePipeline(canonical, _table())
    live.start_range()
    with pytest.raises(MappingError, match="no face seen"):
        live.finish_range()
