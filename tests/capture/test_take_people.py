"""Takes of every face in view (format version 3): the performer in slot 0 as in every take,
everyone else in slots 1.. with their person ids; written live, in bounded chunks, recovered
after a crash, and read by rank."""

from __future__ import annotations

import numpy as np
import pytest

from face_mocap.capture import take_format, takes
from face_mocap.capture.face_choice import FaceTracker, Tracked
from face_mocap.capture.protocol import Face, FaceFrame
from face_mocap.capture.take_people import person_frames, ranked_people

FRAME_US = 40_000


def face(x: float, marker: float) -> Face:
    """A face centred at image x (normalised) whose blendshapes all read `marker`."""
    landmarks = np.zeros((478, 3), np.float32)
    landmarks[:, 0] = np.linspace(x - 0.05, x + 0.05, 478)
    landmarks[:, 1] = np.linspace(0.3, 0.7, 478)
    return Face(landmarks, np.full(52, marker, np.float32), np.eye(4, dtype=np.float32))


def people_frames(count: int, third_from: int = 10_000) -> list[FaceFrame]:
    """Two people (left, marker 0.1 + i/1000; right, marker 0.5) in MediaPipe's unstable order,
    a third (marker 0.9) from `third_from`; the left one is out of view every 10th frame."""
    frames = []
    for i in range(count):
        faces = [face(0.6, 0.5)] + ([face(0.2, 0.1 + i / 1000)] if i % 10 != 5 else [])
        if i >= third_from:
            faces.append(face(0.9, 0.9))
        frames.append(FaceFrame(i, i * FRAME_US, 640, 480, faces[::-1] if i % 3 else faces))
    return frames


def record(path, frames: list[FaceFrame], slots: int, finish: bool = True) -> takes.TakeWriter:
    tracker = FaceTracker()
    writer = takes.TakeWriter(path, {"image_size": [640, 480], "face_slots": slots}, flush_interval_s=0)
    for frame in frames:
        writer.append(tracker.track(frame))
    if finish:
        writer.finish()
    return writer


def test_every_face_is_stored_with_its_person_id_and_read_by_rank(tmp_path):
    path = tmp_path / "two.fmtake"
    record(path, people_frames(60, third_from=30), slots=3)
    take = takes.read_take(path)
    assert take.metadata["format_version"] == takes.SLOTS_VERSION and take.face_slots == 3
    assert take.face_found.all()  # the performer: the largest face nearest the centre, here the one at x 0.6
    np.testing.assert_allclose(take.blendshapes, 0.5)
    assert len(set(take.person_ids[:, 0].tolist())) == 1
    assert ranked_people(take)[1:] == sorted(set(take.person_ids[:, 1:].ravel().tolist()) - {-1})
    found, landmarks, blendshapes, _ = person_frames(take, 2)  # the left one, out of view every 10th frame
    np.testing.assert_array_equal(found, np.arange(60) % 10 != 5)
    np.testing.assert_allclose(blendshapes[found, 0], 0.1 + np.flatnonzero(found) / 1000, atol=1e-6)
    assert np.isnan(landmarks[~found]).all()
    third = person_frames(take, 3)[0]
    np.testing.assert_array_equal(third, np.arange(60) >= 30)
    assert not person_frames(take, 4)[0].any()  # nobody has that rank
    with pytest.raises(ValueError, match="starts at 1"):
        person_frames(take, 0)


def test_a_one_face_take_is_version_1_as_before_and_reads_by_rank(tmp_path):
    path = tmp_path / "one.fmtake"
    record(path, people_frames(20), slots=1)
    take = takes.read_take(path)
    assert take.metadata["format_version"] == takes.FORMAT_VERSION and "person_ids" not in take.arrays()
    assert take.face_slots == 1 and (take.person_ids[:, 0] == 0).all() and ranked_people(take) == [None]
    assert person_frames(take, 1)[0].all() and not person_frames(take, 2)[0].any()
    per_frame = takes.frame_bytes(1, 0) - 4
    assert per_frame == 6025  # the one-face layout is untouched
    assert takes.frame_bytes(1, 0, slots=2) - 4 == per_frame + 6008 + 8  # a face and two ids more


def test_more_people_than_slots_keeps_the_performer_and_the_earliest_seen(tmp_path):
    path = tmp_path / "slots.fmtake"
    record(path, people_frames(20, third_from=10), slots=2)
    take = takes.read_take(path)
    left = take.person_ids[0, 1]
    present = np.arange(20) % 10 != 5
    assert (take.person_ids[present, 1] == left).all()  # the third person, seen last, gets no slot...
    assert (take.person_ids[15, 1] != left) and take.person_ids[5, 1] == -1  # ...but a free one
    np.testing.assert_allclose(take.other_blendshapes[take.person_ids[:, 1] == left, 0, 0] - 0.1,
                               np.flatnonzero(take.person_ids[:, 1] == left) / 1000, atol=1e-6)


def test_chunks_stay_bounded_and_a_crashed_recording_is_recovered_with_everyone(tmp_path):
    path = tmp_path / "long.fmtake"
    frames = people_frames(2 * takes.MAX_CHUNK_FRAMES + 10)
    writer = takes.TakeWriter(path, {"image_size": [640, 480], "face_slots": 2}, flush_interval_s=1e9)
    tracker = FaceTracker()
    for frame in frames:
        writer.append(tracker.track(frame))
    writer.close()  # the process dies: no end marker
    info = takes.take_info(writer.partial_path)
    assert info.largest_chunk_frames == takes.MAX_CHUNK_FRAMES and info.frame_count == len(frames)
    recovered = takes.read_take(takes.recover_take(writer.partial_path))
    assert recovered.complete and recovered.face_slots == 2 and recovered.frame_count == len(frames)
    np.testing.assert_array_equal(person_frames(recovered, 2)[0], np.arange(len(frames)) % 10 != 5)


def test_a_range_and_forward_only_keep_every_slot(tmp_path):
    path = tmp_path / "range.fmtake"
    record(path, people_frames(40), slots=2)
    whole = takes.read_take(path)
    part = takes.read_take(path, 12, 30)
    for name, array in part.arrays().items():
        np.testing.assert_array_equal(array, whole.arrays()[name][12:30], err_msg=name)
    backwards = takes.Take(metadata=whole.metadata, **{**whole.arrays(),
                                                       "timestamps_us": whole.timestamps_us[[0, 1, 1, *range(3, 40)]]})
    kept, dropped = takes.forward_only(backwards)
    assert dropped == 1 and kept.person_ids.shape == (39, 2) and kept.other_landmarks.shape == (39, 1, 478, 3)


@pytest.mark.parametrize("metadata, match", [
    ({"face_slots": 9}, "face_slots that is not a face count"),
    ({"face_slots": 0}, "face_slots that is not a face count"),
    ({"face_slots": "2"}, "face_slots that is not a face count"),
    ({"face_slots": 2, "face_geometry": False}, "several faces but no face geometry"),
])
def test_bad_face_slots_are_refused_with_a_reason(tmp_path, metadata, match):
    with pytest.raises(takes.TakeError, match=match):
        takes.TakeWriter(tmp_path / "bad.fmtake", metadata)


def test_a_header_that_says_version_1_with_slots_or_an_end_that_changes_them_is_refused():
    with pytest.raises(takes.TakeError, match="does not match its format version"):
        takes.check_metadata({"format_version": 1, "face_slots": 2})
    with pytest.raises(takes.TakeError, match="changes face_slots"):
        take_format.check_end({"frame_count": 0, "metadata": {"face_slots": 3}}, {"format_version": 3, "face_slots": 2})


def test_a_plain_frame_keeps_its_order_its_first_face_the_performer(tmp_path):
    frame = people_frames(1)[0]
    tracked = Tracked.untracked(frame)
    assert tracked.performer == 0 and tracked.ids == (0, 1) and tracked.performer_frame() is frame
    path = tmp_path / "plain.fmtake"
    with takes.TakeWriter(path, {"face_slots": 2}) as writer:
        writer.append(frame)
    take = takes.read_take(path)
    np.testing.assert_array_equal(take.person_ids, [[0, 1]])
    np.testing.assert_allclose(take.blendshapes[0], frame.faces[0].blendshapes)


def test_a_person_take_is_that_person_alone_as_its_only_face(tmp_path):
    from face_mocap.capture.take_people import person_take

    path = tmp_path / "two.fmtake"
    record(path, people_frames(30), slots=2)
    take = takes.read_take(path)
    assert person_take(take, 1) is take
    second = person_take(take, 2)
    assert second.face_slots == 1 and second.metadata["person_rank"] == 2
    np.testing.assert_array_equal(second.face_found, np.arange(30) % 10 != 5)
    np.testing.assert_allclose(second.blendshapes[1, 0], 0.101, atol=1e-6)
    np.testing.assert_array_equal(second.timestamps_us, take.timestamps_us)


def test_a_person_is_ranked_from_ids_and_times_alone_and_read_piece_by_piece(tmp_path):
    """Baking a character reads the take's person ids and times (a few bytes a frame) to rank
    people, then the pieces: the same frames as the whole take gives, over several chunks."""
    from face_mocap.capture.take_people import person_chunks
    from face_mocap.capture.take_read import read_columns
    from take_corpus import read_chars

    path, one = tmp_path / "three.fmtake", tmp_path / "one.fmtake"
    record(path, people_frames(4500, third_from=2500), slots=3)  # read in three pieces
    record(one, people_frames(20), slots=1)
    take = takes.read_take(path)
    before = read_chars()
    columns = read_columns(path, ("person_ids", "timestamps_us"))
    read = read_chars() - before
    size = path.stat().st_size
    np.testing.assert_array_equal(columns["person_ids"], take.person_ids)
    np.testing.assert_array_equal(columns["timestamps_us"], take.timestamps_us)
    assert read < size / 200, f"read {read:,} bytes of a {size:,}-byte take to rank its people"
    for rank in (2, 3, 4):
        pieces = list(person_chunks(path, rank))
        assert len(pieces) == 3
        found, landmarks, blendshapes, _ = person_frames(take, rank)
        np.testing.assert_array_equal(np.concatenate([piece.face_found for piece in pieces]), found)
        np.testing.assert_array_equal(np.concatenate([piece.blendshapes for piece in pieces]), blendshapes)
    # a bad sector in a late frame's faces (frame 3,937, past its ids): the ranking still reads
    # the ids, the frames stop where read_take stops, and no one changes rank
    damaged = tmp_path / "damaged.fmtake"
    data = bytearray(path.read_bytes())
    data[-size // 8] ^= 0xFF
    damaged.write_bytes(bytes(data))
    readable = takes.read_take(damaged)
    assert 0 < readable.frame_count < take.frame_count and readable.problem
    pieces = list(person_chunks(damaged, 2))
    np.testing.assert_array_equal(np.concatenate([piece.face_found for piece in pieces]),
                                  person_frames(take, 2)[0][:readable.frame_count])
    assert "person_ids" not in read_columns(one, ("person_ids", "timestamps_us"))
    assert not any(piece.face_found.any() for piece in person_chunks(one, 2))  # nobody but the performer
