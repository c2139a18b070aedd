"""Face Mocap: facial motion capture for Blender (webcam or video -> your rig)."""


def register() -> None:
    from . import ui

    ui.register()


def unregister() -> None:
    from . import ui

    ui.unregister()
