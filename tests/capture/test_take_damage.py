"""Damaged take files: every reader gives a TakeError with a reason (or the frames it could
read, marked incomplete), never another exception, and recovery never loses a .partial."""

from __future__ import annotations

import pytest

from face_mocap.capture import takes
from take_corpus import damaged_corpus, good_take_bytes

CORPUS = damaged_corpus()


def outcome(read, path) -> str:
    """'error' (TakeError with a message) or 'incomplete' (complete False with a problem); anything else fails."""
    try:
        result = read(path)
    except takes.TakeError as exc:
        assert str(exc), f"{path.name}: a TakeError without a message"
        return "error"
    assert not result.complete and result.problem, f"{path.name}: read as complete"
    return "incomplete"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_damaged_takes_give_take_errors_with_reasons(tmp_path, name):
    data, expected = CORPUS[name]
    path = tmp_path / f"{name}.fmtake"
    path.write_bytes(data)
    assert outcome(takes.read_take, path) == expected.replace("payload", "incomplete"), f"read_take({name})"
    if expected == "payload":  # take_info reads no frames, so it cannot see their checksums
        assert takes.take_info(path).complete
    else:
        assert outcome(takes.take_info, path) == expected, f"take_info({name})"
    partial = tmp_path / f"{name}.fmtake.partial"
    path.rename(partial)
    try:
        recovered = takes.recover_take(partial)
    except takes.TakeError as exc:
        assert expected == "error" and str(exc)
        assert partial.read_bytes() == data, "a failed recovery changed the .partial"
        assert sorted(p.name for p in tmp_path.iterdir()) == [partial.name], "a failed recovery left files behind"
    else:
        assert expected != "error" and not partial.exists()
        assert takes.read_take(recovered).complete


def test_every_truncation_of_a_take_reads_what_is_whole(tmp_path):
    data = good_take_bytes(chunks=3, per_chunk=5)
    path = tmp_path / "cut.fmtake.partial"
    offsets = sorted(set(range(0, len(data), 211)) | set(range(0, 120)) | {len(data) - n for n in range(1, 40)})
    for cut in offsets:
        path.write_bytes(data[:cut])
        results = [outcome(read, path) for read in (takes.read_take, takes.take_info)]
        assert results[0] == results[1], f"cut at {cut} of {len(data)}: read_take and take_info disagree"
        if results[0] == "incomplete":
            frames = takes.read_take(path).frame_count
            assert frames == takes.take_info(path).frame_count and frames % 5 == 0, f"cut at {cut}"
            assert takes.read_take(takes.recover_take(path)).frame_count == frames, f"cut at {cut}"
            (tmp_path / "cut.fmtake").unlink()


def test_a_directory_named_like_a_take_is_a_take_error(tmp_path):
    (tmp_path / "folder.fmtake").mkdir()
    for read in (takes.read_take, takes.take_info):
        with pytest.raises(takes.TakeError, match="cannot read take"):
            read(tmp_path / "folder.fmtake")
