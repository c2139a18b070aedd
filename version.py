"""The add-on's version; blender_manifest.toml's `version` must match (a test checks)."""

VERSION = (0, 1, 0)
__version__ = ".".join(str(part) for part in VERSION)
