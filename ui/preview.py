"""Camera preview: the capture process's JPEGs as an Image, drawn in the 3D viewport with the landmarks.

The JPEG is written to a temporary file that Blender decodes (no image library needed);
a POST_PIXEL draw handler draws it in the viewport's corner with the tracked landmarks
of the newest frame on top. The Image has no users, so it is never saved in the .blend.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import bpy
import numpy as np

log = logging.getLogger(__name__)

IMAGE_NAME = "Face Mocap Preview"
PREVIEW_WIDTH_PX = 320  # on screen, before the UI scale


class _Preview:
    """What the draw handler shows: the Image, the landmarks (normalised x, y) and the handler."""

    handler = None
    landmarks: np.ndarray | None = None
    size: tuple[int, int] = (0, 0)
    frame_index: int = -1
    folder: Path | None = None


def image() -> bpy.types.Image | None:
    """The preview Image, if a preview has been shown."""
    return bpy.data.images.get(IMAGE_NAME)


def _jpeg_path() -> Path:
    if _Preview.folder is None:
        _Preview.folder = Path(tempfile.mkdtemp(prefix="face_mocap_preview_"))
    return _Preview.folder / "preview.jpg"


def show(preview, frame) -> None:
    """Decode a protocol Preview into the Image and remember the frame's landmarks."""
    path = _jpeg_path()
    partial = path.with_suffix(".tmp")
    partial.write_bytes(preview.jpeg)
    os.replace(partial, path)  # never let Blender read a half-written file
    img = image()
    if img is None or img.filepath != str(path):
        if img is not None:
            bpy.data.images.remove(img)
        img = bpy.data.images.load(str(path), check_existing=False)
        img.name = IMAGE_NAME
    else:
        img.reload()
    _Preview.size = (preview.width, preview.height)
    _Preview.frame_index = preview.frame_index
    _Preview.landmarks = (np.asarray(frame.faces[0].landmarks[:, :2], np.float32).copy()
                          if frame is not None and frame.faces else None)
    _ensure_handler()
    _redraw_viewports()


def clear() -> None:
    """Remove the preview image and the draw handler (capture stopped or preview turned off)."""
    _remove_handler()
    _Preview.landmarks = None
    img = image()
    if img is not None:
        bpy.data.images.remove(img)
    if _Preview.folder is not None:
        for item in _Preview.folder.glob("*"):
            item.unlink(missing_ok=True)
        _Preview.folder.rmdir()
        _Preview.folder = None
    _redraw_viewports()


def _ensure_handler() -> None:
    if _Preview.handler is None and not bpy.app.background:
        _Preview.handler = bpy.types.SpaceView3D.draw_handler_add(_draw, (), "WINDOW", "POST_PIXEL")


def _remove_handler() -> None:
    if _Preview.handler is not None:
        bpy.types.SpaceView3D.draw_handler_remove(_Preview.handler, "WINDOW")
        _Preview.handler = None


def _redraw_viewports() -> None:
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", ()):
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def overlay_rect(region_width: int, ui_scale: float, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """Where the preview goes in a region: (x, y, width, height) in pixels, top-left corner."""
    width = PREVIEW_WIDTH_PX * ui_scale
    height = width * size[1] / max(size[0], 1)
    margin = 10 * ui_scale
    return margin, 0.0, width, height


def landmark_points(landmarks: np.ndarray, rect: tuple[float, float, float, float]) -> np.ndarray:
    """Normalised landmarks (top-left origin) -> region pixel coordinates inside rect."""
    x, y, width, height = rect
    return np.column_stack([x + landmarks[:, 0] * width, y + (1.0 - landmarks[:, 1]) * height])


def _draw() -> None:
    """POST_PIXEL draw handler: the camera image in the corner and the landmarks over it."""
    img = image()
    context = bpy.context
    scene = context.scene
    if img is None or scene is None or not scene.face_mocap.show_preview:
        return
    import gpu  # only when drawing: absent in background mode
    from gpu_extras.batch import batch_for_shader
    from gpu_extras.presets import draw_texture_2d

    region = context.region
    x, _, width, height = overlay_rect(region.width, context.preferences.system.ui_scale, _Preview.size)
    y = region.height - height - 40 * context.preferences.system.ui_scale
    try:
        texture = gpu.texture.from_image(img)
    except Exception as exc:  # a half-decoded image: skip this redraw
        log.debug("preview texture not ready: %s", exc)
        return
    draw_texture_2d(texture, (x, y), width, height)
    if _Preview.landmarks is None:
        return
    points = landmark_points(_Preview.landmarks, (x, y, width, height))
    shader = gpu.shader.from_builtin("POINT_UNIFORM_COLOR")
    batch = batch_for_shader(shader, "POINTS", {"pos": points.tolist()})
    gpu.state.point_size_set(2.0)
    shader.uniform_float("color", (0.2, 1.0, 0.4, 0.9))
    gpu.state.blend_set("ALPHA")
    batch.draw(shader)
    gpu.state.blend_set("NONE")


def register() -> None:
    pass


def unregister() -> None:
    clear()
