"""The bounds on inspecting one part: its limits, its budget, and what is raised past them."""

from __future__ import annotations

import time

# How deep containers may nest (base64 in a zip in a mail in a mail…).
MAX_DEPTH = 8
# What everything inside one part may expand to, decoded and decompressed, in bytes.
MAX_EXPANDED_BYTES = 64 * 1024 * 1024
MAX_ARCHIVE_ENTRIES = 1000
# Bytes looked at in one go; larger input is not inspected at all (so taken to name it).
MAX_INPUT_BYTES = 64 * 1024 * 1024
# How much CPU time inspecting one mail's parts may take, in seconds: an honest 25 MB mail
# takes a few; text made to be slow to decode (millions of escapes) would take minutes.
# Under the reader's own time-out, which also refuses the mail but restarts the workers.
INSPECT_SECONDS = 30.0


class Uninspectable(Exception):
    """Data that cannot be fully inspected within the bounds: taken to name the address."""


class TooSlow(Exception):
    """Inspecting a mail ran out of its CPU time: the mail is refused as too complex, never
    kept with parts unread (nor stripped of parts that may be honest)."""


class Budget:
    """What decoding and decompressing may still produce, in bytes, and until when
    inspecting may go on."""

    def __init__(self, left: int = MAX_EXPANDED_BYTES, deadline: float | None = None) -> None:
        # `deadline`: of this process's CPU time (time.process_time), which other load on
        # the host does not eat into.
        self.left = left
        self.deadline = deadline

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise Uninspectable("more content than can be inspected")
        self.in_time()

    def in_time(self) -> None:
        if self.deadline is not None and time.process_time() > self.deadline:
            raise TooSlow("inspecting took too long")

