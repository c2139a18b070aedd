"""The staged pipeline: live per frame and offline per take agree; no face stays no value."""

import numpy as np
import pytest

from face_mocap.capture.protocol import Face, FaceFrame
from face_mocap.capture.takes import TakeWriter, read_chunks, read_take, write_take
from face_mocap.mapping import channels as ch
from face_mocap.mapping.autodetect import auto_detect
from face_mocap.mapping.errors import MappingError
from face_mocap.mapping.livelink import read_livelink_csv
from face_mocap.mapping.pipeline import LivePipeline, map_take, map_take_chunks, neutral_from_take, take_channels
from face_mocap.mapping.retarget import Target

RIG = ["head", "neck", "jaw", "eye.L", "eye.R"]


def _table():
    keys = [n[0].upper() + n[1:] for n in ch.ARKIT_NAMES]  # PascalCase, as on FBHead
    table, _ = auto_detect(keys, RIG)
    return table


def _frames(take):
    w, h = take.image_size
    for i in range(take.frame_count):
        faces = []
        if take.face_found[i]:
            faces = [Face(take.landmarks[i], take.blendshapes[i], take.transforms[i])]
        yield FaceFrame(i, int(take.timestamps_us[i]), w, h, faces)


def test_live_and_offline_agree_frame_by_frame(dump_take, canonical):
    take = dump_take("pexels")
    table = _table()
    for smoothing in ("off", "medium"):
        live = LivePipeline(canonical, table, smoothing=smoothing)
        results = [live.process(frame) for frame in _frames(take)]
        offline = map_take(take, table, smoothing=smoothing, face=canonical, zero_phase_smoothing=False)
        for j, target in enumerate(results[0].targets):
            np.testing.assert_allclose([r.values[j] for r in results], offline[target], atol=1e-9)
    assert len(results[0].targets) == 52 + 3 * 2 + 1 + 2 * 3  # shapes, neck+head, jaw, eyes (rotation vectors)


def test_no_face_gives_no_value_live_and_offline(dump_take, canonical):
    take = dump_take("face_noface")
    table = _table()
    live = LivePipeline(canonical, table)
    results = [live.process(frame) for frame in _frames(take)]
    lost = ~take.face_found
    assert all(np.isnan(r.values).all() for r, gone in zip(results, lost) if gone)
    assert all(np.isfinite(r.values).all() for r, gone in zip(results, lost) if not gone)
    assert [r.face_found for r in results] == take.face_found.tolist()
    baked = map_take(take, table, face=canonical)
    blink = baked[Target("shape_key", "EyeBlinkLeft")]
    assert np.isnan(blink[lost]).all() and np.isfinite(blink[~lost]).all()


def test_calibrating_live_zeroes_the_neutral_head(dump_take, canonical):
    take = dump_take("still")
    live = LivePipeline(canonical, _table(), smoothing="off")
    frames = list(_frames(take))
    with pytest.raises(MappingError, match="no face seen yet"):
        live.calibrate_recent()
    for frame in frames[:30]:
        live.process(frame)
    cal = live.calibrate_recent(seconds=0.5)
    assert cal.neutral_rotation is not None
    after = [live.process(frame).channels for frame in frames[30:]]
    head = np.degrees(np.array(after)[:, 52:55])
    assert np.abs(np.median(head[:10], axis=0)).max() < 0.5  # right after: the neutral reads 0
    assert np.abs(head).max() < 5.0  # later he drifts a little, as a still sitter does
    blink = np.array(after)[:, ch.CHANNEL_INDEX["eyeBlinkLeft"]]
    assert abs(np.median(blink)) < 0.05  # neutral expression offsets applied too


def test_bake_a_recorded_take_file(tmp_path, dump_take, canonical):
    path = write_take(tmp_path / "take.fmtake", dump_take("grid"))
    take = read_take(path)
    baked = map_take(take, _table(), face=canonical)
    jaw = baked[Target("bone_rotation", "jaw", 0)]
    assert jaw.shape == (take.frame_count,)
    assert np.nanmax(np.abs(jaw)) > np.radians(1.0)  # the speaker's jaw moves
    smile = baked[Target("shape_key", "MouthSmileLeft")]
    assert np.all((smile >= 0) & (smile <= 1))


def _write_in_chunks(path, take, frames: int):
    """The take as a recording writes it: many small chunks (`frames` each)."""
    writer = TakeWriter(path, take.metadata)
    for start in range(0, take.frame_count, frames):
        writer.append_arrays({name: array[start:start + frames] for name, array in take.arrays().items()})
    return writer.finish()


@pytest.mark.parametrize("name", ["pexels", "noface_face", "live_link"])
def test_a_take_mapped_piece_by_piece_gives_the_whole_take_values(name, tmp_path, dump_take, canonical, interop):
    take = (read_livelink_csv(interop / "MySlate_3_Jason_Millers_iPhone.csv").take if name == "live_link"
            else dump_take(name))  # noface_face: the first pieces have no landmarks at all
    path = _write_in_chunks(tmp_path / "take.fmtake", take, 37)
    whole = map_take(read_take(path), _table(), face=canonical)
    # the frame count from the headers (the bake), none, or one that is off (a recording that grew, dropped frames)
    for count in (take.frame_count, None, take.frame_count // 2, take.frame_count + 10):
        times, pieces = map_take_chunks(read_chunks(path, max_frames=100), _table(), face=canonical,
                                        frame_count=count)
        np.testing.assert_array_equal(times, take.timestamps_us / 1e6)
        assert list(pieces) == list(whole)
        for target, values in whole.items():
            np.testing.assert_allclose(pieces[target], values, rtol=0, atol=1e-12, err_msg=f"{target} ({count})")
    assert np.isfinite(pieces[Target("shape_key", "JawOpen")]).any()


def test_bake_a_live_link_take(interop):
    take = read_livelink_csv(interop / "MySlate_3_Jason_Millers_iPhone.csv").take
    baked = map_take(take, _table())  # no landmarks: no canonical face needed
    assert np.isfinite(baked[Target("shape_key", "JawOpen")]).all()
    # no jawAngle without landmarks: the jaw bone opens from jawOpen instead (issue 10)
    jaw = baked[Target("bone_rotation", "jaw", 0)]
    assert np.isfinite(jaw).all() and np.nanmax(np.abs(jaw)) > np.radians(5)


def test_a_take_with_landmarks_needs_the_canonical_face(dump_take):
    with pytest.raises(MappingError, match="load_canonical_face"):
        map_take(dump_take("grid"), _table())


def test_neutral_from_a_take_without_landmarks(tmp_path, interop):
    """Calibrate Neutral From Take on a Live Link CSV: its channels give the neutral (issue 10, item 4)."""
    take = read_livelink_csv(interop / "MySlate_3_Jason_Millers_iPhone.csv").take
    pitch = ch.CHANNEL_INDEX["eyeLeftPitch"]  # this phone wrote its head angles as 0, its eye angles not
    raw = take_channels(take)
    frame = int(np.nanargmax(np.abs(raw[:, pitch])))  # the eyes furthest down in the take
    path = tmp_path / "livelink.fmtake"
    write_take(path, take)
    cal = neutral_from_take(read_take(path, frame, frame + 1), None)  # that frame only, as the button reads it
    out = cal.apply(raw)
    assert abs(raw[frame, pitch]) > 0.1  # radians: a real resting tilt to take out
    angles = [ch.CHANNEL_INDEX[n] for n in ch.HEAD_ROTATION + ch.EYE_LEFT + ch.EYE_RIGHT]
    np.testing.assert_allclose(out[frame, angles], 0.0, atol=1e-12)  # head and eye angles offset to 0
    np.testing.assert_allclose(out[:, pitch], raw[:, pitch] - raw[frame, pitch])  # offset, not rescaled
    assert cal.neutral_rotation is None
    assert np.nanmin(out[:, :ch.N_SHAPES]) >= 0.0
