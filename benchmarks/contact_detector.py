"""TradeMail's contact-details detector beside Presidio's pattern recognizers and scrubadub.

    python3 benchmarks/contact_detector.py

Scores the labelled corpus in tests/contacts_corpus/ the way tests/test_contacts.py does (a
finding is a true positive when it overlaps a labelled span of its kind; recall counts the
labelled spans found) and prints one table: precision and recall per kind each tool can
detect, overall on the kinds it detects, overall on all kinds, and the median time per text.
Then it times TradeMail's detector on hostile texts of MAX_TEXT_LENGTH characters (repeated
fragments that reach every matcher) and prints the slowest, best of three runs each.

Presidio (`pip install presidio-analyzer`) and scrubadub (`pip install scrubadub`) are for
this benchmark only, not dependencies of TradeMail; a tool that is not installed is skipped
with a note. Presidio's EmailRecognizer, PhoneRecognizer and UrlRecognizer are called directly,
without an NLP model; its PhoneRecognizer is given the member's country and the same major
trading regions as TradeMail's. scrubadub runs its default detectors plus its Skype detector,
in the member's locale; its @handle (twitter) and Skype findings count as messenger handles.
A second table scores phone numbers alone with phonenumbers' own PhoneNumberMatcher at each
Leniency, over the same regions, beside TradeMail's phone matcher.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from trademail.services.contactphones import MAJOR_REGIONS
from trademail.services.contacts import KINDS, MAX_TEXT_LENGTH, find_contacts, region_code

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "contacts_corpus"
Span = tuple[str, int, int]
Detector = Callable[[str, str], list[Span]]


def load_corpus() -> list[dict]:
    texts = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        texts += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return texts


def trademail_detector() -> tuple[Detector, set[str]]:
    def detect(text: str, country: str) -> list[Span]:
        return [(f.kind, f.start, f.end) for f in find_contacts(text, country=country)]
    return detect, set(KINDS)


def presidio_detector() -> tuple[Detector, set[str]]:
    # Presidio's email check asks tldextract for a fresh suffix list over the network and
    # logs a traceback when it cannot; the bundled list it falls back to is the one we want.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    from presidio_analyzer.predefined_recognizers import (
        EmailRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
    )
    kinds = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "URL": "url"}
    email, url = EmailRecognizer(), UrlRecognizer()
    phones: dict[str, PhoneRecognizer] = {}

    def detect(text: str, country: str) -> list[Span]:
        region = region_code(country)
        if region not in phones:
            regions = [region, *(r for r in MAJOR_REGIONS if r != region)] if region \
                else list(MAJOR_REGIONS)
            phones[region] = PhoneRecognizer(supported_regions=regions)
        found = []
        for recognizer in (email, url, phones[region]):
            for result in recognizer.analyze(text, recognizer.supported_entities, None):
                found.append((kinds[result.entity_type], result.start, result.end))
        return found
    return detect, set(kinds.values())


def scrubadub_detector() -> tuple[Detector, set[str]]:
    import scrubadub
    kinds = {"email": "email", "phone": "phone", "url": "url", "twitter": "messenger",
             "skype": "messenger"}
    scrubbers: dict[str, scrubadub.Scrubber] = {}

    def scrubber_for(region: str) -> scrubadub.Scrubber:
        if region not in scrubbers:
            try:
                scrubbers[region] = scrubadub.Scrubber(locale=f"en_{region or 'US'}")
            except (ValueError, LookupError):
                scrubbers[region] = scrubadub.Scrubber(locale="en_US")
            scrubbers[region].add_detector("skype")
        return scrubbers[region]

    def detect(text: str, country: str) -> list[Span]:
        return [(kinds[f.type], f.beg, f.end)
                for f in scrubber_for(region_code(country)).iter_filth(text) if f.type in kinds]
    return detect, set(kinds.values())


def phonenumbers_detector(leniency: str = "VALID") -> tuple[Detector, set[str]]:
    """phonenumbers' own PhoneNumberMatcher at `leniency`, over the member's country and the
    major trading regions, as the issue proposed; overlapping findings merged into one."""
    import phonenumbers
    level = getattr(phonenumbers.Leniency, leniency)

    def detect(text: str, country: str) -> list[Span]:
        region = region_code(country)
        regions = [region, *(r for r in MAJOR_REGIONS if r != region)] if region \
            else list(MAJOR_REGIONS)
        spans = sorted({(m.start, m.end) for r in regions
                        for m in phonenumbers.PhoneNumberMatcher(text, r, leniency=level)})
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(end, merged[-1][1])
            else:
                merged.append([start, end])
        return [("phone", start, end) for start, end in merged]
    return detect, {"phone"}


def leniency_table(corpus: list[dict]) -> str:
    """Phone numbers only: TradeMail beside PhoneNumberMatcher at each leniency."""
    rows = ["| phone numbers | P / R | median time per text |", "|---|---|---|"]
    detectors = {"TradeMail": trademail_detector()[0]} | {
        f"PhoneNumberMatcher, Leniency.{name}": phonenumbers_detector(name)[0]
        for name in ("POSSIBLE", "VALID", "STRICT_GROUPING", "EXACT_GROUPING")}
    for name, detect in detectors.items():
        counts, median = score(detect, corpus)
        rows.append(f"| {name} | {cell(counts['phone'])} | {median * 1000:.2f} ms |")
    return "\n".join(rows)


def score(detect: Detector, corpus: list[dict]) -> tuple[dict[str, Counter], float]:
    counts = {kind: Counter() for kind in KINDS}
    times = []
    for entry in corpus:
        started = time.perf_counter()
        findings = detect(entry["text"], entry["country"])
        times.append(time.perf_counter() - started)
        for kind, start, end in findings:
            hit = any(s["kind"] == kind and s["start"] < end and start < s["end"]
                      for s in entry["spans"])
            counts[kind]["tp" if hit else "fp"] += 1
        for s in entry["spans"]:
            counts[s["kind"]]["spans"] += 1
            counts[s["kind"]]["found"] += any(k == s["kind"] and s["start"] < e and b < s["end"]
                                              for k, b, e in findings)
    return counts, statistics.median(times)


def cell(counts: Counter) -> str:
    tp, fp = counts["tp"], counts["fp"]
    precision = f"{tp / (tp + fp):.3f}" if tp + fp else "  -  "
    recall = f"{counts['found'] / counts['spans']:.3f}" if counts["spans"] else "  -  "
    return f"{precision} / {recall}"


def table(results: dict[str, tuple[dict[str, Counter], float, set[str]]]) -> str:
    names = list(results)
    rows = [["kind (spans)", *(f"{name} P / R" for name in names)]]
    for kind in KINDS:
        spans = next(iter(results.values()))[0][kind]["spans"]
        rows.append([f"{kind} ({spans})", *(cell(counts[kind]) if kind in kinds else "n/a"
                                           for counts, _, kinds in results.values())])
    for label, own in (("overall, kinds it detects", True), ("overall, all kinds", False)):
        row = [label]
        for counts, _, kinds in results.values():
            total = Counter()
            for kind in KINDS:
                if kind in kinds or not own:
                    total.update(counts[kind])
            row.append(cell(total))
        rows.append(row)
    rows.append(["median time per text", *(f"{median * 1000:.2f} ms"
                                           for _, median, _ in results.values())])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# Fragments that, repeated to MAX_TEXT_LENGTH characters, make each matcher work hardest.
HOSTILE_FRAGMENTS = [
    "a", "a.", "Ab-", "1", "1 ", "O1 ", "john at ", "acme dot ", "x@", "www.", "１", "1\u200b",
    "one two three ", "12 Abc Def Ghi Street ", "Plot 45, Sector 18, ", "Address: A, B, 1 ",
    "a . b @ ", "DM @abc_1 follow ", "一二三四五六七八九零 ", "replace # with @ ab#cd.com ",
    "www abc com ", "Ruta 12 km 3, ", "1-2-3 Abc, Abc-ku ", "fb AbcDef is coming ",
    "Abc Def Ghi Mah. ", "Abc Cad. a b c d e f g h ", "12 Abc-ro ", "ул. Абв Где Жзи, ",
    "Abc Def Road, Ghi Jkl, ", "R12 Abc Def, ", "Lot 5 Blk 12 ", ", 1234 AB Abcdef ",
    "Phường Abc Def Ghi, ", "Calle 12 # ", "东京都渋谷区渋谷1-", "ab.c1 gmail ",
    "a·", "ab-at-cd-dot-", "at x dotcom ", "www,a,", "\u0435\u0445\u0440\u043e.\u0441\u043e ",
    "1 \u041e\u041e\u041e ", "1-800-ABCDEFG ", "a_b on Telegram ", "Telegram ➜ ", "Tel:\n0\n",
    "6 8 10 12 ", "1 234 567 ", "x@gmail ", "a.b.gmail.com ", "12 Oak Street toys ",
    "Tel +49 (0) 30 1234 5678 info@acme.com www.acme.de Hafenstraße 12, 20457 Hamburg ",
]


def hostile_times() -> list[tuple[float, str]]:
    """The best of three runs on each hostile text, slowest first."""
    times = []
    for fragment in HOSTILE_FRAGMENTS:
        text = (fragment * (MAX_TEXT_LENGTH // len(fragment) + 1))[:MAX_TEXT_LENGTH]
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            find_contacts(text, country="DE")
            runs.append(time.perf_counter() - started)
        times.append((min(runs), fragment))
    return sorted(times, reverse=True)


def main() -> None:
    corpus = load_corpus()
    print(f"{len(corpus)} texts, {sum(len(t['spans']) for t in corpus)} labelled spans\n")
    candidates = {"TradeMail": trademail_detector, "Presidio (patterns)": presidio_detector,
                  "scrubadub": scrubadub_detector}
    results = {}
    for name, build in candidates.items():
        try:
            detect, kinds = build()
        except ImportError as error:
            print(f"{name}: not installed ({error.name}); skipped. "
                  f"Install it with pip to include it.")
            continue
        detect(corpus[0]["text"], corpus[0]["country"])  # tables and models load once
        counts, median = score(detect, corpus)
        results[name] = (counts, median, kinds)
    print(table(results))
    print("\n" + leniency_table(corpus))
    slowest = hostile_times()
    print(f"\nTradeMail on {len(slowest)} hostile texts of {MAX_TEXT_LENGTH:,} characters, "
          "slowest first (best of three runs):")
    for seconds, fragment in slowest[:5]:
        print(f"  {seconds * 1000:7.1f} ms  {fragment!r} repeated")


if __name__ == "__main__":
    main()
