"""`python -m capture.batch FOLDER OUT`: track a folder of videos into takes on Dask.

Each video is one Dask task (batch_task.track_clip) running the real `python -m capture --out`,
so a clip tracks exactly as a single offline import does. By default a LocalCluster of worker
processes (one clip at a time each) uses every core of this machine; `--scheduler ADDRESS`
sends the tasks to a running cluster whose workers see FOLDER and OUT at the same paths.
A worker that dies has its clip rerun elsewhere (the scheduler's resilience), a capture
stopped by a signal is retried (`--retries`), a clip whose file is broken fails alone.
Takes land by the take writer's rename, so a complete take is never half-written; clips
whose complete take is already in OUT are skipped. Dask is imported only here, at run time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

from .batch_task import ClipResult, finished_take, track_clip

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".mpg", ".mpeg", ".webm", ".wmv", ".mts"})
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130  # and 2 from argparse: usage


def find_videos(folder: Path) -> list[Path]:
    """The video files directly in `folder`, by name (by suffix: a broken one must still be tried)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))


def plan_takes(videos: list[Path], out: Path) -> list[tuple[Path, Path]]:
    """(video, take) pairs: OUT/<stem>.fmtake, or OUT/<name>.fmtake where two videos share a stem."""
    stems = [v.stem for v in videos]
    return [(v, out / f"{v.stem if stems.count(v.stem) == 1 else v.name}.fmtake") for v in videos]


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[object]:
    """A Client on `scheduler`, or on a LocalCluster of `workers` processes with one thread each."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    # one thread per worker: a worker runs one capture process at a time
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit=0) as cluster, Client(cluster) as client:
        yield client


def already_tracked(jobs: list[tuple[Path, Path]]) -> dict[str, ClipResult]:
    """The clips whose complete take is already in place, as `skipped` results."""
    found = {video.name: finished_take(take) for video, take in jobs}
    return {name: ClipResult(name, "skipped", *counts, message="complete take already there")
            for name, counts in found.items() if counts}


def track_all(client, jobs: list[tuple[Path, Path]], capture_args: list[str], python: str | None,
              retries: int) -> dict[str, ClipResult]:
    """Submit one task per clip; report each clip on its own line as it ends."""
    from distributed import as_completed

    futures = {client.submit(track_clip, str(video), str(take), capture_args, python, retries=retries, pure=False,
                             key=f"track-{video.name}-{os.urandom(4).hex()}"): video.name for video, take in jobs}
    results: dict[str, ClipResult] = {}
    for done, future in enumerate(as_completed(futures), 1):
        name = futures[future]
        try:
            result = future.result()
        except Exception as exc:  # its worker died too often (KilledWorker), or it was interrupted on every try
            result = ClipResult(name, "failed", message=f"{exc.__class__.__name__}: {exc}".splitlines()[0])
        results[name] = result
        line = f"[{done}/{len(jobs)}] {result.status} {name}"
        if result.status == "failed":
            print(f"{line}: {result.message}", file=sys.stderr, flush=True)
        else:
            print(f"{line}: {result.frames} frames in {result.seconds:.1f} s", flush=True)
    return results


def summary_table(results: list[ClipResult], elapsed_s: float) -> str:
    """A plain-text table of every clip and a closing line with the throughput."""
    rows = [("clip", "status", "frames", "face", "seconds", "note")]
    rows += [(r.clip, r.status, str(r.frames), str(r.frames_with_face), f"{r.seconds:.1f}", r.message)
             for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths)) + "  " + row[5] for row in rows]
    tracked = [r for r in results if r.status == "done"]
    frames = sum(r.frames for r in tracked)
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    minutes = max(elapsed_s, 1e-9) / 60
    lines.append(f"{counts['done']} tracked, {counts['skipped']} skipped, {counts['failed']} failed in "
                 f"{elapsed_s:.1f} s: {len(tracked) / minutes:.1f} clips/min, {frames / minutes / 60:.1f} frames/s")
    return "\n".join(line.rstrip() for line in lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m capture.batch",
        description="Track every video in FOLDER into OUT/<name>.fmtake on a Dask cluster (a local one by default). "
                    "Options after -- go to each `python -m capture` (e.g. -- --num-faces 2).")
    parser.add_argument("folder", type=Path, help="folder of video files")
    parser.add_argument("out", type=Path, help="folder for the takes (created if missing)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the local cluster (default: one per CPU)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="use this Dask scheduler (tcp://host:8786) instead")
    parser.add_argument("--python", help="interpreter that runs the capture process (default: the worker's own)")
    parser.add_argument("--retries", type=int, default=2,
                        help="reruns of a clip whose capture was stopped by a signal (default 2)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; 0 when every clip is tracked or skipped, 1 when any failed, 2 on bad usage,
    130 when interrupted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)  # what follows "--" is each capture's
    capture_args = argv[split + 1:]
    parser = build_parser()
    args = parser.parse_args(argv[:split])
    if any(a.split("=")[0] in ("--source", "--out", "--connect") for a in capture_args):
        parser.error("the batch sets --source and --out of each capture itself")
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not args.folder.is_dir():
        parser.error(f"no folder '{args.folder}'")
    jobs = plan_takes(find_videos(args.folder), args.out)
    if not jobs:
        parser.error(f"no video files in '{args.folder}' ({', '.join(sorted(VIDEO_SUFFIXES))})")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = already_tracked(jobs)
    pending = [(video, take) for video, take in jobs if video.name not in results]
    print(f"{len(jobs)} clips: {len(results)} already tracked, {len(pending)} to track", flush=True)
    try:
        if pending:  # a rerun with nothing left to do starts no cluster
            with dask_client(args.workers, args.scheduler) as client:
                workers = client.scheduler_info()["workers"]
                print(f"scheduler {client.scheduler.address}, {len(workers)} workers", flush=True)
                results.update(track_all(client, pending, capture_args, args.python, args.retries))
    except KeyboardInterrupt:  # the cluster is closed on the way out: its captures stop, leaving no .partial
        print("interrupted: the finished takes are kept; run again to track the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    results = [results[video.name] for video, _ in jobs]
    elapsed = time.monotonic() - started
    print(summary_table(results, elapsed), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"elapsed_s": elapsed, "clips": [asdict(r) for r in results]}, indent=1))
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
