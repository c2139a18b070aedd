"""Crash recovery: an interrupted `<name>.fmtake.partial` becomes `<name>.fmtake`.

Streamed (memory bounded by one 1 MiB piece, whatever the take's length) and verified:
the copy is read back before it is renamed into place, and the .partial is deleted only
after that. Any failure leaves the .partial as it was and removes the half-made copy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from . import take_lock
from .take_format import CHUNK_HEADER, END, MAGIC, META, PARTIAL_SUFFIX, TAKE_SUFFIX, TakeError, chunk, encode_json
from .take_read import TakeScan, copy_chunk, open_take, scan, take_info

STAGED_SUFFIX = ".recovering"


def recover_take(partial_path: str | os.PathLike) -> Path:
    """Finish a recording that was interrupted (a crash): every complete, checksum-valid chunk becomes a take.

    Raises TakeError, leaving the .partial untouched, when it is being written right now,
    when the take's name is taken, or when the copy cannot be written or read back."""
    partial_path = Path(partial_path)
    if not partial_path.name.endswith(TAKE_SUFFIX + PARTIAL_SUFFIX):
        raise TakeError(f"'{partial_path.name}' is not an interrupted take (*{TAKE_SUFFIX}{PARTIAL_SUFFIX})")
    final = partial_path.with_name(partial_path.name.removesuffix(PARTIAL_SUFFIX))
    if final.exists():
        raise TakeError(f"cannot recover '{partial_path.name}': '{final.name}' already exists")
    staged = final.with_name(final.name + STAGED_SUFFIX)
    with open_take(partial_path) as source:
        # Held until the copy is in place, so two Blenders never recover the same file at once.
        if take_lock.is_being_written(partial_path) or take_lock.try_lock(source.fileno()) is False:
            raise TakeError(f"'{partial_path.name}' is being recorded right now")
        try:
            frames = _copy(source, partial_path.name, staged)
            scan(staged, lambda copy: _verify(copy, frames))
            if final.exists():
                raise TakeError(f"'{final.name}' appeared meanwhile")
            os.replace(staged, final)
            sync_folder(final.parent)
        except (OSError, TakeError) as exc:
            _discard(staged)
            why = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
            raise TakeError(f"could not recover '{partial_path.name}' ({_holds(partial_path)}, "
                            f"kept in it): {why}") from None
    try:
        partial_path.unlink()
    except OSError as exc:
        raise TakeError(f"recovered '{final.name}', but cannot delete '{partial_path.name}': "
                        f"{exc.strerror or exc}") from None
    return final


def _copy(source: BinaryIO, name: str, staged: Path) -> int:
    """Copy the header and every sound frame chunk to `staged`, end it and sync it; the frame count.

    A chunk whose checksum fails is left out and the copy goes on: its header is sound (the
    scan checked its length against its frame count), so the chunks after it are found."""
    take = TakeScan(source, name)
    with open(staged, "wb") as out:  # buffered: a short write raises instead of passing unnoticed
        out.write(MAGIC + chunk(META, take.meta_payload))
        frames, damaged, lost = 0, [], 0
        for frame_chunk in take.frames():
            start = out.tell()
            out.write(CHUNK_HEADER.pack(frame_chunk.tag, frame_chunk.length, frame_chunk.crc))
            if not copy_chunk(source, frame_chunk, out.write):
                out.truncate(start)
                out.seek(start)
                damaged.append(frame_chunk.offset)
                lost += frame_chunk.count
                continue
            frames += frame_chunk.count
        ended = take.end[1] if take.end is not None else take.metadata
        additions = {key: value for key, value in ended.items() if take.metadata.get(key) != value}
        why = take.problem or ("the recording was interrupted" if take.end is None
                               else "the take was finished but not renamed into place")
        if damaged:
            why = (f"{len(damaged)} damaged chunk(s) left out, {lost} frames (checksum mismatch at byte "
                   f"{damaged[0]}{' and later' if len(damaged) > 1 else ''}); {why}")
            additions["frames_left_out"] = lost
        additions["recovered"] = why
        out.write(chunk(END, encode_json({"frame_count": frames, "metadata": additions})))
        out.flush()
        os.fsync(out.fileno())
    return frames


def _verify(copy: TakeScan, frames: int) -> None:
    """Read the copy back: every chunk's checksum, the end marker, the frame count."""
    count = 0
    for frame_chunk in copy.frames():
        if not copy_chunk(copy.file, frame_chunk):
            raise TakeError(f"the recovered copy does not read back (checksum mismatch at byte {frame_chunk.offset})")
        count += frame_chunk.count
    _, complete, problem = copy.outcome(count)
    if not complete or count != frames:
        detail = f" ({problem})" if problem else ""
        raise TakeError(f"the recovered copy reads back {count} of {frames} frames{detail}")


def _holds(partial: Path) -> str:
    try:
        return f"{take_info(partial).frame_count} frames"
    except TakeError:
        return "no readable frames"


def _discard(staged: Path) -> None:
    try:
        staged.unlink(missing_ok=True)
    except OSError:
        pass  # a leftover copy is overwritten by the next attempt


def sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (POSIX; Windows cannot open folders and needs none)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync folders; the rename itself has happened
    finally:
        os.close(fd)
