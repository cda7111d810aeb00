"""The times and places a trainee proposes, so the scripted customer accepts what was offered.

A scripted "yes" names a time ("Thursday at three") and sometimes a place
("Wuxi"). When the trainee proposed others, the customer takes the trainee's
last-named one instead: offered Suzhou on Tuesday, nobody answers "Wuxi on
Thursday".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_ZH_NUMBER = "零一二两三四五六七八九十"
_ZH_DAY = r"(?:周|星期|礼拜)[一二三四五六日天]"
_ZH_PART = r"(?:早上|上午|中午|下午|傍晚|晚上)"
_ZH_CLOCK = rf"[{_ZH_NUMBER}\d]{{1,3}}点(?:半|[{_ZH_NUMBER}\d]{{1,3}}分?)?"
_ZH_TIME = re.compile(
    rf"(?:(?:今天|明天|后天)?(?:下个?|这个?|本)?{_ZH_DAY}|今天|明天|后天)"
    rf"{_ZH_PART}?(?:{_ZH_CLOCK})?(?:以后|之后|以前|之前|前)?"
    rf"|{_ZH_PART}(?:{_ZH_CLOCK})(?:以后|之后|以前|之前|前)?"
    rf"|{_ZH_CLOCK}(?:以后|之后|以前|之前)"
    r"|\d{1,2}[号日]"
)
_EN_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|tomorrow|today"
_EN_NUMBER = (
    r"(?:\d{1,2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?"
    r"|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?:\s+o'clock)?"
)
_EN_DAY_AFTER = r"(?:\s+(?:today|tomorrow))?"
_EN_TIME = re.compile(
    rf"\b(?:(?:next|this)\s+)?(?:{_EN_DAYS})(?:\s+(?:morning|afternoon|evening))?"
    rf"(?:\s+at\s+{_EN_NUMBER}\b)?"
    rf"|\b(?:at|after|before)\s+{_EN_NUMBER}(?:\s+in\s+the\s+(?:morning|afternoon|evening))?"
    rf"{_EN_DAY_AFTER}"
    rf"|\b{_EN_NUMBER}\s+in\s+the\s+(?:morning|afternoon|evening)\b"
    rf"|\b{_EN_NUMBER}\s+o'clock"
    r"|\bthe\s+\d{1,2}(?:st|nd|rd|th)\b",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_NO_ON = ("next", "this", "today", "tomorrow")


def times_in(text: str, language: str) -> list[str]:
    """The time phrases in `text` written in `language`, in order; pieces with only spaces
    between them ("tomorrow" "before nine") are one phrase."""
    pattern = _ZH_TIME if language == "zh" else _EN_TIME
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        start, end = match.span()
        if start == end:
            continue
        if spans and not text[spans[-1][1] : start].strip():
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return [text[start:end].strip() for start, end in spans]


def places_in(text: str, places: Sequence[str]) -> list[str]:
    """The known places `text` names, in the order they appear."""
    found = [(text.casefold().find(place.casefold()), place) for place in places]
    return [place for position, place in sorted(found) if position >= 0]


def _swap(line: str, said: str, offered: Sequence[str], reply: str) -> str:
    """`said` in the line becomes the trainee's last offer, unless the trainee named it too."""
    if not offered or said.casefold() in reply.casefold():
        return line
    chosen = offered[-1]
    start = line.find(said)
    if start == 0 and not _CJK.search(chosen):  # it opens the sentence
        chosen = chosen[:1].upper() + chosen[1:]
    if line[:start].endswith(" on ") and chosen.split()[0].lower() in _NO_ON:
        start -= len("on ")  # "on next Tuesday" reads "next Tuesday"
        said = "on " + said
    return line[:start] + chosen + line[start + len(said) :]


def follow_offer(line: str, reply: str, language: str, places: Sequence[str] = ()) -> str:
    """The customer's accepting line, made to name the time and place the trainee offered."""
    said_times = times_in(line, language)
    if said_times:
        line = _swap(line, said_times[0], times_in(reply, language), reply)
    said_places = places_in(line, places)
    if said_places:
        line = _swap(line, said_places[0], places_in(reply, places), reply)
    return line
