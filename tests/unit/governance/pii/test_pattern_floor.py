"""Pattern floors: the fewest characters and digits any match of a pattern has, read off
its parse tree, so that the runner can skip calls that cannot match."""

from __future__ import annotations

import regex

from bench.pii_bench import make_records
from governance.pii import evaluation
from governance.pii.pattern_floor import Floor, decimal_digits, pattern_floor

FLAGS = regex.IGNORECASE | regex.MULTILINE | regex.DOTALL


def test_a_floor_counts_the_characters_and_digits_every_match_needs() -> None:
    assert pattern_floor(r"(?<![\w+\-])\d(?:[ \-]?\d){11,18}(?![\w\-])", FLAGS) == Floor(12, 12)
    assert pattern_floor(r"\bORD-\d{8}\b", FLAGS) == Floor(12, 8, frozenset("-"))
    # an alternation needs what its cheapest branch needs; lookarounds need nothing
    assert pattern_floor(r"(?=\d{9})(?:\d{3}-\d{2}|[a-z]{2}\d)", FLAGS) == Floor(3, 1)  # noqa: E501
    # a class that also matches a letter is no digit; [0-9] and \d are
    assert pattern_floor(r"[0-9a-f]{4}[0-9]\d", FLAGS) == Floor(6, 2)
    assert pattern_floor(r"x?", FLAGS) == Floor(0, 0)


def test_syntax_beyond_what_re_shares_gets_no_floor() -> None:
    assert pattern_floor(r"(?:abcdef){e<=1}", FLAGS) is None  # fuzzy: can match fewer
    assert pattern_floor(r"[[:digit:]]{4}", FLAGS) is None  # POSIX class
    assert pattern_floor(r"[{|}]x{e<=1}", FLAGS) is None  # fuzzy after a class with braces
    assert pattern_floor(r"\p{Lu}\p{Ll}+", 0) is None  # Unicode property
    assert pattern_floor(r"strasse", FLAGS | regex.FULLCASE) is None  # "ß" matches "ss"
    assert pattern_floor(r"(?V1)[\w--\d]+", FLAGS) is None


def test_digits_are_counted_as_the_regex_module_matches_them() -> None:
    assert decimal_digits("ORD-12 ٣٤ ½ x") == 4  # Arabic-Indic digits match \d; ½ does not
    assert decimal_digits("") == 0


def test_no_text_a_floor_rules_out_holds_a_match_of_any_configured_pattern(pii_engine) -> None:
    records, _ = make_records(150, seed=3)
    texts = [v for r in records for v in r.values()]
    texts += [d.text for d in evaluation.generate(100, seed=4)]
    texts += ["", "7", "12-34", "ab1", "٣٤٥٦٧٨٩٠١٢٣٤", "+1 555 0100", "00:1A:2B:3C:4D:5E"]
    checked = ruled_out = 0
    for recognizer in pii_engine.pattern_recognizers:
        for pattern in getattr(recognizer, "patterns", []):
            floor = pattern_floor(pattern.regex, recognizer.global_regex_flags)
            if floor is None:
                continue
            compiled = regex.compile(pattern.regex, recognizer.global_regex_flags)
            for text in texts:
                checked += 1
                if floor.rules_out(len(text), decimal_digits(text)) or floor.lacks_literal(text):
                    ruled_out += 1
                    assert not any(m.end() > m.start() for m in compiled.finditer(text)), (
                        recognizer.name,
                        pattern.name,
                        text,
                    )
    assert ruled_out > checked // 4  # the floors do rule out a good share of the calls


def test_the_required_literals_are_characters_every_match_contains() -> None:
    # a literal of the sequence counts, and a one-character class; under IGNORECASE only
    # characters no letter folds to (digits, ASCII punctuation, space) count
    assert pattern_floor(r"\bORD-\d{8}\b", 0).literals == frozenset("ORD-")
    assert pattern_floor(r"\bORD-\d{8}\b", FLAGS).literals == frozenset("-")
    assert pattern_floor(r"(?i)k[@]x", 0).literals == frozenset("@")
    assert pattern_floor(r"(?i:k)k@", 0).literals == frozenset("k@")
    # alternation: what every branch contains; an optional repeat, a lookaround, a
    # back-reference contain nothing
    assert pattern_floor(r"a@b|c@d:", 0).literals == frozenset("@")
    assert pattern_floor(r"x(?::y)?(?=#)(.)\1[.]{1,3}", 0).literals == frozenset("x.")
    assert pattern_floor(r"(?:-|/)\d+", FLAGS).literals == frozenset()
    # a brace or a colon inside a class is a literal of the class, not fuzzy matching or a
    # POSIX class: Presidio's e-mail pattern ([...`{|}~\w]) needs its "@"
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    email = EmailRecognizer()
    assert "@" in pattern_floor(email.patterns[0].regex, email.global_regex_flags).literals
    assert pattern_floor(r"[{}]\d[:-]\d", 0) == Floor(4, 2)


def test_the_literal_floor_skips_only_presidio_patterns_that_cannot_match() -> None:
    # Presidio's own patterns: each is skipped exactly on texts that lack a character
    # every match has, and none of those texts holds a match
    from presidio_analyzer.predefined_recognizers import (
        DateRecognizer,
        IpRecognizer,
        MacAddressRecognizer,
        UrlRecognizer,
        UsSsnRecognizer,
    )

    texts = [
        "fe80::1ff:fe23:4567:890a",
        "fe80 1ff fe23",
        "10.0.0.1",
        "10 0 0 1",
        "::ffff:192.0.2.128",
        "2026-08-22",
        "2026/08/22",
        "22.08.2026",
        "22 08 2026",
        "00:1A:2B:3C:4D:5E",
        "001A.2B3C.4D5E",
        "www.example.com",
        "example com",
        "https://example.org/x",
        "538-01-2516",
        "538 01 2516",
        "Agent: Hi",
        "Ryan at [10:03] wrote 7 lines",
        "",
    ]
    skipped = kept = 0
    for recognizer in (
        IpRecognizer(),
        DateRecognizer(),
        MacAddressRecognizer(),
        UrlRecognizer(),
        UsSsnRecognizer(),
    ):
        for pattern in recognizer.patterns:
            floor = pattern_floor(pattern.regex, recognizer.global_regex_flags)
            if floor is None:
                continue
            compiled = regex.compile(pattern.regex, recognizer.global_regex_flags)
            for text in texts:
                matches = any(m.end() > m.start() for m in compiled.finditer(text))
                if floor.lacks_literal(text):
                    skipped += 1
                    assert not matches, (recognizer.name, pattern.name, text)
                else:
                    kept += 1
    ip6 = pattern_floor(IpRecognizer().patterns[-1].regex, IpRecognizer().global_regex_flags)
    assert ip6 is not None and ":" in ip6.literals
    assert skipped > 100 and kept > 50
