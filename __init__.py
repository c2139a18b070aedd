"""Face Mocap: facial motion capture for Blender (webcam or video -> your rig)."""

VERSION = (0, 1, 0)  # blender_manifest.toml's `version` must match (tests/blender/test_manifest.py)
__version__ = ".".join(str(part) for part in VERSION)


def register() -> None:
    from . import ui

    ui.register()


def unregister() -> None:
    from . import ui

    ui.unregister()
