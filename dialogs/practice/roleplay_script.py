"""The scripted customer: the opening line, then each next line chosen by what the trainee did."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from dialogs.practice.offers import follow_offer
from playbooks.schema import Branch, Scenario, ScenarioTurn


@dataclass(frozen=True)
class ScriptedLine:
    """What the customer says next, and which branch of the turn said it."""

    text: str
    branch: int


def opening(scenario: Scenario, language: str) -> str:
    """The customer's first words, before the trainee's turn 1."""
    return scenario.opening.get(language)


def takes(branch: Branch, seen: Collection[str]) -> bool:
    """Whether the reply's moves meet the branch's condition."""
    wanted = not branch.if_any or any(move in seen for move in branch.if_any)
    return wanted and not any(move in seen for move in branch.if_none)


def choose_branch(turn: ScenarioTurn, seen: Collection[str]) -> int:
    """The first branch whose condition the reply meets; the last one has none."""
    return next(i for i, branch in enumerate(turn.branches) if takes(branch, seen))


def reply_to(
    scenario: Scenario, turn: int, seen: Collection[str], language: str, reply: str = ""
) -> ScriptedLine:
    """The customer's answer to the trainee's reply at `turn` (1-based), given its moves;
    agreeing to a proposal, it names the time and place the trainee offered."""
    step = scenario.turns[turn - 1]
    index = choose_branch(step, seen)
    branch = step.branches[index]
    line = branch.say.get(language)
    if branch.follows_offer and reply:
        places = [place.get(language) for place in scenario.places]
        line = follow_offer(line, reply, language, places)
    return ScriptedLine(line, index)
