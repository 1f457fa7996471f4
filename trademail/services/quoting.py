"""Reading a reply's own words: quoted history, attribution lines and signatures cut off,
as the common mail clients write them; and a sender's display name made fit to show.

Everything here is linear in its input: each cue is a regular expression over one line of
bounded length, without nested or overlapping quantifiers.
"""

from __future__ import annotations

import re

# Where quoted history starts, in the reply styles of common mail clients.
_ATTRIBUTION = [
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.I | re.S),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.I | re.S),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.{0,100}:\s*$", re.I | re.S),
    re.compile(r"^\s*El\b.{0,300}\bescribió:\s*$", re.I | re.S),
    re.compile(r"^\s*Em\b.{0,300}\bescreveu:\s*$", re.I | re.S),
    re.compile(r"^\s*在.{0,300}写道[:：]\s*$", re.S),
]
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht|"
    r"Message d'origine)\s*-{2,}|_{20,}|Begin forwarded message:)\s*$", re.I)
_OUTLOOK_HEADER = re.compile(r"^\s*\*?(From|Von|De|Van)\s*:\*?\s", re.I)
_OUTLOOK_NEXT = re.compile(r"^\s*\*?(Sent|Date|Gesendet|Datum|Envoyé|Verzonden|To|An|À|Aan|"
                           r"Subject|Betreff|Objet|Onderwerp)\s*:", re.I)
_OUTLOOK_SENT = re.compile(r"^\s*\*?(Sent|Date|Gesendet|Datum|Envoyé|Verzonden)\s*:", re.I)
_SIGNATURE = re.compile(
    r"^(Sent from my (iPhone|iPad|Android|phone|mobile).*|Get Outlook for (iOS|Android).*|"
    r"Sent from (Mail|Outlook) for .*|Envoyé de mon iPhone.*|Von meinem iPhone gesendet.*)$",
    re.I)
# A lone "--" (the delimiter with its space lost) starts a signature only this close to
# the end; "-- " does wherever it is.
SHORT_SIGNATURE_LINES = 6
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _names_an_address(text: str, domain: str = "") -> bool:
    """Whether some word of `text` looks like an address (or names `domain`). Linear: a
    scan of words, no regular expression that can backtrack."""
    if domain and domain in text.lower():
        return True
    for word in text.split():
        local, at, host = word.strip("<>()[]\"',;:").rpartition("@")
        if at and local and "." in host.strip("."):
            return True
    return False


def _quoted_next(lines: list[str], start: int) -> bool:
    """Whether the first non-blank line from `start` on is quoted (or there is none)."""
    for line in lines[start:]:
        if line.strip():
            return line.lstrip().startswith(">")
    return True


def trim_reply(text: str, relay_domain: str = "") -> str:
    """The new text of a reply: quoted history, attribution lines and signature cut off.

    Each cue is strict enough not to eat real text: an Outlook header block counts only
    with an address or a Sent:/Date: line in it; an "On … wrote:" line only when quoted
    lines (or nothing) follow it or it names an address; "-- " always starts a signature,
    a lone "--" only when a few lines at most follow it.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if _SEPARATOR.match(line) or _SIGNATURE.match(line) or line == "-- ":
            break
        if line.strip() == "--" and len(lines) - i - 1 <= SHORT_SIGNATURE_LINES:
            break
        quoted = line.lstrip().startswith(">")
        wrapped = following.rstrip().endswith(":") and not quoted
        attribution = None
        if any(p.match(line) for p in _ATTRIBUTION):
            attribution = (line, i + 1)
        elif wrapped and any(p.match(line + " " + following) for p in _ATTRIBUTION):
            attribution = (line + " " + following, i + 2)
        if attribution is not None and (_quoted_next(lines, attribution[1])
                                        or _names_an_address(attribution[0], relay_domain)):
            break
        if _OUTLOOK_HEADER.match(line) and any(_OUTLOOK_NEXT.match(n) for n in lines[i + 1:i + 3]):
            block = lines[i:i + 5]
            if any(_OUTLOOK_SENT.match(n) for n in block) or _names_an_address(
                    "\n".join(block), relay_domain):
                break
        if quoted:
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def display_name(text: str) -> str:
    """A sender's display name fit to show: one line, no address in it, bounded."""
    words = _CONTROL.sub(" ", text).split()
    name = " ".join(w for w in words if "@" not in w).strip(" \"'<>")
    return name[:100]
