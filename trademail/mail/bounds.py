"""The bounds on inspecting one part: its limits, its budget, and what is raised past them."""

from __future__ import annotations

# How deep containers may nest (base64 in a zip in a mail in a mail…).
MAX_DEPTH = 8
# What everything inside one part may expand to, decoded and decompressed, in bytes.
MAX_EXPANDED_BYTES = 64 * 1024 * 1024
MAX_ARCHIVE_ENTRIES = 1000
# Bytes looked at in one go; larger input is not inspected at all (so taken to name it).
MAX_INPUT_BYTES = 64 * 1024 * 1024


class Uninspectable(Exception):
    """Data that cannot be fully inspected within the bounds: taken to name the address."""


class Budget:
    """What decoding and decompressing may still produce, in bytes."""

    def __init__(self, left: int = MAX_EXPANDED_BYTES) -> None:
        self.left = left

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise Uninspectable("more content than can be inspected")

