"""Choosing what a debrief's coaching card says: one strength, one thing to work on, one drill."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

# Objection outcomes from the objection log that mean the answer did not (fully) land.
UNRESOLVED = ("failed", "partly", None)


def _in_form_order(ratings: Mapping[str, int], order: Sequence[str]) -> list[tuple[str, int]]:
    known = [(item, ratings[item]) for item in order if item in ratings]
    extra = [(item, score) for item, score in ratings.items() if item not in order]
    return known + extra


def strongest(ratings: Mapping[str, int], order: Sequence[str]) -> str | None:
    """The best-rated item, only when it stands out; on a tie, the first in the form's order.

    Items all rated the same single out none, so the card quotes the rep's own
    "what went best" instead.
    """
    rated = _in_form_order(ratings, order)
    if not rated or max(score for _, score in rated) == min(score for _, score in rated):
        return None
    best = max(score for _, score in rated)
    return next(item for item, score in rated if score == best)


def weakest(ratings: Mapping[str, int], order: Sequence[str]) -> str | None:
    """The worst-rated item, only when it stands out; on a tie, the first in the form's order."""
    rated = _in_form_order(ratings, order)
    if not rated or max(score for _, score in rated) == min(score for _, score in rated):
        return None
    worst = min(score for _, score in rated)
    return next(item for item, score in rated if score == worst)


def split_objections(met: Sequence[tuple[str, str | None]]) -> tuple[list[str], list[str]]:
    """Objection types met, as (not yet handled well, handled), each without repeats.

    `met` holds (type, outcome) pairs, newest first, as the objection log records them.
    """
    unresolved: list[str] = []
    resolved: list[str] = []
    for kind, outcome in met:
        target = unresolved if outcome in UNRESOLVED else resolved
        if kind not in unresolved and kind not in resolved:
            target.append(kind)
    return unresolved, resolved


def drills_by_objection(
    own_drill: Mapping[str, str], practised_in: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """Per objection type, the drills that practise it: its own drill first, then every drill
    listing it among the objections it practises, each once."""
    table: dict[str, list[str]] = {kind: [drill] for kind, drill in own_drill.items()}
    for drill, kinds in practised_in.items():
        for kind in kinds:
            if drill not in table.setdefault(kind, []):
                table[kind].append(drill)
    return table


def suggest_drill(
    *,
    met: Sequence[tuple[str, str | None]],
    heard: Sequence[str],
    weak_item: str | None,
    objection_drills: Mapping[str, Sequence[str]],
    item_drills: Mapping[str, str],
    known_drills: Collection[str],
    default: str | None,
) -> str | None:
    """The drill to practise before the next visit: it follows what the visit was about.

    In order: an objection met in the visit that was not handled well, an objection the
    debrief's own words name (`heard`, likeliest first), the weakest self-rated item, an
    objection met and handled, and finally the default. An objection type may have several
    drills (`objection_drills`); ids not in `known_drills` (unknown, or written for another
    industry) are passed over. The objections the plan only expected are not evidence.
    """
    unresolved, resolved = split_objections(met)

    def drills_for(kinds: Sequence[str]) -> list[str | None]:
        return [drill for kind in kinds for drill in objection_drills.get(kind, ())]

    candidates = [
        *drills_for(unresolved),
        *drills_for([kind for kind in heard if kind not in resolved]),
        item_drills.get(weak_item) if weak_item else None,
        *drills_for(resolved),
        default,
    ]
    return next((drill for drill in candidates if drill and drill in known_drills), None)
