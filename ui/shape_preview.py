"""A preview of a head's shape keys: one front render per key (Workbench, headless), tiled into a PNG."""

from __future__ import annotations

import tempfile
from pathlib import Path

import bpy
import numpy as np

from .face_landmarks import frame_view, front_scene, render_still

TILE_PX = 200


def _keys(objects: list[bpy.types.Object]):
    """Every shape key but the Basis of the objects, looked up afresh (renders may reallocate them)."""
    return [key for obj in objects if obj.data.shape_keys is not None for key in obj.data.shape_keys.key_blocks[1:]]


def _show(objects: list[bpy.types.Object], name: str) -> None:
    """Only the shape key `name` at 1 on every object (all others at 0)."""
    for key in _keys(objects):
        key.value = 1.0 if key.name == name else 0.0


def _read_pixels(path: Path) -> np.ndarray:
    image = bpy.data.images.load(str(path))
    try:
        width, height = image.size
        pixels = np.empty(width * height * 4, np.float32)
        image.pixels.foreach_get(pixels)
        return pixels.reshape(height, width, 4)
    finally:
        bpy.data.images.remove(image)


def _write_png(pixels: np.ndarray, path: Path) -> None:
    height, width = pixels.shape[:2]
    image = bpy.data.images.new("FaceMocapShapePreview", width, height, alpha=True)
    try:
        image.pixels.foreach_set(pixels.astype(np.float32).ravel())
        image.filepath_raw = str(path)
        image.file_format = "PNG"
        image.save()
    finally:
        bpy.data.images.remove(image)


def _without_empty_bottom(tiles: list[np.ndarray], margin: int = 4) -> list[np.ndarray]:
    """The tiles without the rows at the bottom that are background in all of them (a mesh's
    bounding box often reaches below what shows from the front)."""
    background = tiles[0][0, 0]
    content = np.any([np.abs(tile - background).max(axis=(1, 2)) > 0.02 for tile in tiles], axis=0)
    rows = np.flatnonzero(content)
    first = max(0, int(rows[0]) - margin) if len(rows) else 0
    return [tile[first:] for tile in tiles]  # row 0 is the bottom in Blender's pixels


def write_preview(obj: bpy.types.Object, others: list[bpy.types.Object], names: list[str], path: Path,
                  columns: int = 9, tile_px: int = TILE_PX) -> Path:
    """Render the head (with `others`, e.g. teeth) once per shape key in `names` ("Basis" = none)
    at 1.0, labelled with the name, and tile the renders row by row into the PNG `path`."""
    objects = [obj, *others]
    view = frame_view(obj)
    aspect = view.height / view.width
    size = (tile_px, max(16, round(tile_px * aspect)))
    saved = [key.value for key in _keys(objects)]
    tiles = []
    try:
        with front_scene(view, objects, size) as scene, tempfile.TemporaryDirectory() as tmp:
            scene.render.use_stamp = True
            for flag in ("date", "time", "render_time", "frame", "frame_range", "memory", "hostname", "camera",
                         "lens", "scene", "marker", "filename", "sequencer_strip", "note"):
                setattr(scene.render, f"use_stamp_{flag}", flag == "note")
            scene.render.stamp_font_size = max(8, tile_px // 14)
            for i, name in enumerate(names):
                _show(objects, name)
                scene.render.stamp_note_text = name
                tile = Path(tmp) / f"{i:03d}.png"
                render_still(scene, tile)
                tiles.append(_read_pixels(tile))
    finally:
        for key, value in zip(_keys(objects), saved):
            key.value = value
    tiles = _without_empty_bottom(tiles)
    rows = -(-len(tiles) // columns)
    height, width = tiles[0].shape[:2]
    grid = np.ones((rows * height, min(columns, len(tiles)) * width, 4), np.float32)
    for i, tile in enumerate(tiles):
        row, col = divmod(i, columns)
        top = (rows - 1 - row) * height  # Blender's pixel rows run bottom-up
        grid[top:top + height, col * width:(col + 1) * width] = tile
    path = Path(path)
    _write_png(grid, path)
    return path
