"""Score a role-play reply by what it does at its turn: 7/5/3 per criterion, a total, a flag.

The judgement comes from `understanding.roleplay_judge` (the SPIN stage due at
this turn, acknowledge-then-contradict, rhetorical questions, pitching before
asking, specific proof; a pairwise model trained on role-play pairs orders what
the rubric leaves level, and says when it is unsure). It is deterministic: the
same reply always gets the same score, so enablement staff can try replies with
`salescoach roleplay score` and measure the judge with `salescoach roleplay eval`.
The cues of playbooks/data/moves.yaml still show which words a move was seen in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dialogs.practice.wording import normalize, words
from playbooks.schema import RUBRIC_SCORES, Move, Playbooks, RubricCriterion, Scenario
from understanding.roleplay_judge import (
    Judgement,
    LlmRoleplayJudge,
    PairwiseModel,
    context_for,
    default_model,
    judge,
)

OUTSTANDING, SATISFACTORY, NEEDS_WORK = RUBRIC_SCORES
GAP_WORDS = 6  # "..." in an English cue spans at most this many words
GAP_CHARS = 12  # and in a Chinese cue at most this many characters
GAP = "..."

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A sentence ends after ! ? ; (either width), an ideographic full stop, … or a line
# break, or at a full stop followed by a space (so "3.5" and "v2.0" stay whole).
_STATEMENT_ENDS = (".", "\u3002", "!")  # a full stop (either script) or "!"
_SENTENCE_END = re.compile(r"(?<=[!?;\n\u3002\u2026\uff01\uff1f\uff1b])|(?<=\.)(?=\s)")


# ----- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeenMove:
    """A move found in a reply, with the cue (or pattern) that showed it."""

    id: str
    kind: str  # reward | penalty
    cue: str = ""  # the cue as written, or the text a pattern matched; empty for measures
    size: int | None = None  # words (English) or characters (Chinese), for measured moves


@dataclass(frozen=True)
class CriterionScore:
    """One criterion's 7/5/3 for a reply, the finer score inside that band, and why."""

    id: str
    score: int
    points: float  # the playbook's reward points of the moves that counted
    rewards: tuple[str, ...]  # rewarded moves that counted
    penalties: tuple[str, ...]  # forbidden moves seen (any one means 3)
    fine: float = 0.0  # the finer internal scale: never crosses into another band
    assessed: bool = True  # False: the turn does not assess it, but a slip on it counts
    quote: str = ""  # the reply's words that decided it


@dataclass(frozen=True)
class ReplyScore:
    """Everything the scorer says about one reply."""

    moves: tuple[SeenMove, ...]
    criteria: dict[str, CriterionScore]
    tip: str | None  # the move id most worth trying next, or None when nothing is missing
    unsure: tuple[str, ...] = ()  # why the judge is unsure (near_call, model_disagrees, …)
    backend: str = "local"
    fallback: str | None = None  # why the LLM judge's answer was not used

    @property
    def rank(self) -> float:
        """What orders two replies to one turn: the 7/5/3 that applied (a slip outside the
        assessed criteria costs its shortfall), then the finer scale to break ties."""
        shown = sum(
            item.score if item.assessed else item.score - OUTSTANDING
            for item in self.criteria.values()
        )
        inside = [item.fine - item.score for item in self.criteria.values()]
        return shown + (sum(inside) / len(inside) if inside else 0.0)

    @property
    def total(self) -> int:
        """The sum of the criteria's scores."""
        return sum(item.score for item in self.criteria.values())

    @property
    def maximum(self) -> int:
        """The best possible total for the criteria judged."""
        return OUTSTANDING * len(self.criteria)

    @property
    def seen(self) -> frozenset[str]:
        """The ids of every move seen."""
        return frozenset(move.id for move in self.moves)

    @property
    def worked(self) -> tuple[SeenMove, ...]:
        """The rewarded moves seen."""
        return tuple(move for move in self.moves if move.kind == "reward")

    @property
    def slips(self) -> tuple[SeenMove, ...]:
        """The forbidden moves seen."""
        return tuple(move for move in self.moves if move.kind == "penalty")


# ----- cutting a reply into sentences ------------------------------------------------------


@dataclass(frozen=True)
class _Sentence:
    text: str  # normalised
    tokens: tuple[str, ...]

    @cached_property
    def cjk(self) -> bool:
        return bool(_CJK.search(self.text))


def _fold(word: str) -> str:
    """Fold what the classifier's stemmer leaves apart: issue/issues, difficulty/difficulties."""
    if len(word) > 3 and word.endswith("e"):
        return word[:-1]
    if len(word) > 3 and word.endswith("y"):
        return word[:-1] + "i"
    return word


def tokens_of(text: str) -> tuple[str, ...]:
    """The folded words of normalised text, as cues and replies are compared."""
    return tuple(_fold(word) for word in words(text))


def _sentences(text: str) -> list[_Sentence]:
    pieces = _SENTENCE_END.split(text)
    found = []
    for piece in pieces:
        normal = normalize(piece)
        if normal:
            found.append(_Sentence(normal, tokens_of(normal)))
    return found


def reply_size(text: str) -> tuple[int, bool]:
    """How long a reply is: characters when it is Chinese, otherwise words; and which."""
    if _CJK.search(text):
        return len("".join(text.split())), True
    return len(text.split()), False


# ----- cues --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cue:
    written: str  # as in the playbook, for showing which cue matched
    parts: tuple[str | tuple[str, ...], ...]  # Chinese parts are text, others word tuples


def _make_cue(written: str) -> _Cue | None:
    parts: list[str | tuple[str, ...]] = []
    for raw in written.split(GAP):
        part = normalize(raw)
        if not part:
            continue
        if _CJK.search(part):
            parts.append(part)
        else:
            tokens = tokens_of(part)
            if not tokens:
                return None
            parts.append(tokens)
    return _Cue(written, tuple(parts)) if parts else None


def _cues(phrases: Sequence[str]) -> tuple[_Cue, ...]:
    made = (_make_cue(phrase) for phrase in phrases)
    return tuple(cue for cue in made if cue is not None)


@dataclass(frozen=True)
class _Negations:
    words: frozenset[str]
    prefixes: tuple[str, ...]  # Chinese, matched right before a cue

    def before_text(self, text: str, start: int) -> bool:
        return any(text[:start].endswith(prefix) for prefix in self.prefixes)

    def before_token(self, tokens: tuple[str, ...], start: int) -> bool:
        return start > 0 and tokens[start - 1] in self.words


def _find_text(part: str, text: str, after: int, limit: int | None) -> int | None:
    """Where `part` ends in `text`, searching from `after` (within `limit` characters)."""
    start = text.find(part, after)
    if start == -1 or (limit is not None and start - after > limit):
        return None
    return start + len(part)


def _find_tokens(
    part: tuple[str, ...], tokens: tuple[str, ...], after: int, limit: int | None
) -> int | None:
    last = len(tokens) - len(part)
    stop = last if limit is None else min(last, after + limit)
    for index in range(after, stop + 1):
        if tokens[index : index + len(part)] == part:
            return index + len(part)
    return None


def _starts(part: str | tuple[str, ...], sentence: _Sentence) -> list[int]:
    if isinstance(part, str):
        found, at = [], sentence.text.find(part)
        while at != -1:
            found.append(at)
            at = sentence.text.find(part, at + 1)
        return found
    size = len(part)
    return [
        i for i in range(len(sentence.tokens) - size + 1) if sentence.tokens[i : i + size] == part
    ]


def _follow(cue: _Cue, sentence: _Sentence, start: int) -> bool:
    """Whether the rest of the cue's parts follow, each within a short gap."""
    position = start
    for index, part in enumerate(cue.parts):
        limit = None if index == 0 else (GAP_CHARS if isinstance(part, str) else GAP_WORDS)
        if isinstance(part, str):
            end = _find_text(part, sentence.text, position, 0 if index == 0 else limit)
        else:
            end = _find_tokens(part, sentence.tokens, position, 0 if index == 0 else limit)
        if end is None:
            return False
        position = end
    return True


def _matches(cue: _Cue, sentence: _Sentence, negations: _Negations) -> bool:
    first = cue.parts[0]
    for start in _starts(first, sentence):
        negated = (
            negations.before_text(sentence.text, start)
            if isinstance(first, str)
            else negations.before_token(sentence.tokens, start)
        )
        if not negated and _follow(cue, sentence, start):
            return True
    return False


# ----- the compiled playbook ---------------------------------------------------------------


@dataclass(frozen=True)
class _MoveIndex:
    move: Move
    cues: tuple[_Cue, ...]
    patterns: tuple[re.Pattern[str], ...]
    also: tuple[_Cue, ...]

    def evidence(self, sentence: _Sentence, negations: _Negations) -> str | None:
        """The cue or pattern that shows this move in `sentence`, if any."""
        found = next((c.written for c in self.cues if _matches(c, sentence, negations)), None)
        if found is None:
            hit = next((m for m in (p.search(sentence.text) for p in self.patterns) if m), None)
            found = hit.group(0).strip() if hit is not None else None
        if found is None or not self.also:
            return found
        return found if any(_matches(c, sentence, negations) for c in self.also) else None


@dataclass(frozen=True)
class _Index:
    moves: tuple[_MoveIndex, ...]
    negations: _Negations
    endings: tuple[str, ...]
    question_starts: tuple[tuple[str, ...], ...]
    question_words: tuple[str, ...]


def _build_index(playbooks: Playbooks) -> _Index:
    rules = playbooks.reply_rules
    moves = tuple(
        _MoveIndex(
            move=move,
            cues=_cues(move.cues.all()) if move.cues else (),
            patterns=tuple(re.compile(pattern) for pattern in move.patterns),
            also=_cues(move.also.all()) if move.also else (),
        )
        for move in playbooks.moves.values()
    )
    negations = _Negations(
        words=frozenset(token for phrase in rules.negations.en for token in tokens_of(phrase)),
        prefixes=tuple(normalize(prefix) for prefix in rules.negations.zh),
    )
    return _Index(
        moves=moves,
        negations=negations,
        endings=tuple(normalize(ending) for ending in rules.question_endings),
        question_starts=tuple(tokens_of(phrase) for phrase in rules.question_words.en),
        question_words=tuple(normalize(phrase) for phrase in rules.question_words.zh),
    )


_INDEXES: dict[int, tuple[Playbooks, _Index]] = {}


def _index_for(playbooks: Playbooks) -> _Index:
    cached = _INDEXES.get(id(playbooks))
    if cached is not None and cached[0] is playbooks:
        return cached[1]
    index = _build_index(playbooks)
    if len(_INDEXES) > 8:
        _INDEXES.clear()
    _INDEXES[id(playbooks)] = (playbooks, index)
    return index


# ----- finding the moves -------------------------------------------------------------------


def _asks(sentence: _Sentence, index: _Index) -> bool:
    """Whether the sentence is a question: its ending, its first words, or (Chinese) a word.

    A sentence closed by a full stop or an exclamation mark states something,
    whatever question words it contains.
    """
    text = sentence.text.rstrip(" …")
    if text.endswith(index.endings):
        return True
    if text.endswith(_STATEMENT_ENDS):
        return False
    if any(sentence.tokens[: len(start)] == start for start in index.question_starts):
        return True
    return sentence.cjk and any(word in sentence.text for word in index.question_words)


def _measured(move: Move, text: str, playbooks: Playbooks, asked: bool) -> SeenMove | None:
    if move.measure == "question":
        return SeenMove(move.id, move.kind) if asked else None
    rules = playbooks.reply_rules
    size, chinese = reply_size(text)
    low, high = rules.brief_chars if chinese else rules.brief_words
    too_long = rules.long_chars if chinese else rules.long_words
    if move.measure == "brief" and low <= size <= high:
        return SeenMove(move.id, move.kind, size=size)
    if move.measure == "long" and size > too_long:
        return SeenMove(move.id, move.kind, size=size)
    return None


def detect_moves(text: str, playbooks: Playbooks) -> tuple[SeenMove, ...]:
    """Every move the reply shows, in playbook order, each with the first cue that showed it.

    A question that also argues or mocks ("Seriously?") earns no credit for
    asking, evidence counts only when stated (not asked about), and a pitch
    counts as "before asking" only when nothing is asked.
    """
    index = _index_for(playbooks)
    sentences = _sentences(text)
    hits: dict[str, list[tuple[int, str]]] = {}
    for entry in index.moves:
        if entry.move.measure is not None:
            continue
        for number, sentence in enumerate(sentences):
            cue = entry.evidence(sentence, index.negations)
            if cue is not None:
                hits.setdefault(entry.move.id, []).append((number, cue))
    tainted = {
        number
        for entry in index.moves
        if entry.move.kind == "penalty" and not entry.move.without_question
        for number, _ in hits.get(entry.move.id, [])
    }
    asking = {number for number, sentence in enumerate(sentences) if _asks(sentence, index)}
    questions = asking - tainted
    seen: list[SeenMove] = []
    for entry in index.moves:
        move = entry.move
        if move.measure is not None:
            measured = _measured(move, text, playbooks, bool(questions))
            if measured is not None:
                seen.append(measured)
            continue
        found = hits.get(move.id, [])
        if move.in_question:
            found = [(number, cue) for number, cue in found if number in questions]
        if move.in_statement:
            found = [(number, cue) for number, cue in found if number not in asking]
        if move.without_question and questions:
            found = []
        if found:
            seen.append(SeenMove(move.id, move.kind, cue=found[0][1]))
    return tuple(seen)


# ----- scoring -----------------------------------------------------------------------------


def _points(criterion: RubricCriterion, rewards: Sequence[str]) -> float:
    return float(sum(criterion.rewards.get(move, 0.0) for move in rewards))


def score_criterion(criterion: RubricCriterion, seen: frozenset[str]) -> CriterionScore:
    """The old cue rule for one criterion: any penalty gives 3, else reward points vs thresholds.

    Kept for company playbooks that test their cue lists; replies are scored by `score_reply`.
    """
    rewards = tuple(move for move in criterion.rewards if move in seen)
    penalties = tuple(move for move in criterion.penalties if move in seen)
    points = _points(criterion, rewards)
    if penalties:
        score = NEEDS_WORK
    elif points >= criterion.outstanding:
        score = OUTSTANDING
    elif points >= criterion.satisfactory:
        score = SATISFACTORY
    else:
        score = NEEDS_WORK
    return CriterionScore(criterion.id, score, points, rewards, penalties, float(score))


def _tip(
    focus: Sequence[str],
    criteria: Mapping[str, CriterionScore],
    seen: Sequence[SeenMove],
    playbooks: Playbooks,
) -> str | None:
    """One thing to try: stop a forbidden move first, then the turn's focus, then the weakest."""
    slip = next((move.id for move in seen if move.kind == "penalty"), None)
    if slip is not None:
        return slip
    seen_ids = {move.id for move in seen}
    missing = next((move for move in focus if move not in seen_ids), None)
    if missing is not None:
        return missing
    for result in sorted(criteria.values(), key=lambda item: item.score):
        if result.score == OUTSTANDING:
            break
        rewards = playbooks.rubric_criteria[result.id].rewards
        ranked = sorted(rewards, key=lambda move: -rewards[move])
        untried = next((move for move in ranked if move not in seen_ids), None)
        if untried is not None:
            return untried
    return None


def _shown_moves(text: str, judgement: Judgement, playbooks: Playbooks) -> tuple[SeenMove, ...]:
    """The judge's moves in playbook order, each shown with the cue that matched it (if a
    playbook cue did) or the words the judge read it from; lengths for measured moves."""
    index = _index_for(playbooks)
    sentences = _sentences(text)
    entries = {entry.move.id: entry for entry in index.moves}
    size, _chinese = reply_size(text)
    shown = []
    for move_id in playbooks.moves:
        if move_id not in judgement.moves:
            continue
        move = playbooks.moves[move_id]
        if move.measure in ("brief", "long"):
            shown.append(SeenMove(move_id, move.kind, size=size))
            continue
        cue = None
        if move.measure is None:
            found = (entries[move_id].evidence(s, index.negations) for s in sentences)
            cue = next((hit for hit in found if hit is not None), None)
        if cue is None:
            cue = "" if move.measure else judgement.evidence.get(move_id, "")
        shown.append(SeenMove(move_id, move.kind, cue=cue))
    return tuple(shown)


def score_reply(
    text: str,
    scenario: Scenario,
    turn: int,
    playbooks: Playbooks,
    *,
    llm: LlmRoleplayJudge | None = None,
    language: str | None = None,
    model: PairwiseModel | bool | None = True,
) -> ReplyScore:
    """Score the trainee's reply at `turn` (1 = the answer to the customer's opening line).

    The judge (understanding.roleplay_judge) reads what the reply does at this turn; `llm`
    asks the optional LLM judge instead, with the local judgement as its fallback. `model`
    is the pairwise model (True: the shipped one; None or False: the rubric alone).
    """
    context = context_for(scenario, turn)
    pairwise = default_model() if model is True else (model or None)
    judgement = judge(text, context, pairwise, language=language)
    if llm is not None:
        line = _customer_line(scenario, turn, language or language_of(text))
        judgement = llm.judge(text, context, line, judgement)
    moves = _shown_moves(text, judgement, playbooks)
    criteria = {}
    for criterion_id, item in judgement.criteria.items():
        criterion = playbooks.rubric_criteria[criterion_id]
        criteria[criterion_id] = CriterionScore(
            criterion_id,
            item.score,
            _points(criterion, item.rewards),
            tuple(move for move in item.rewards if move in criterion.rewards),
            item.penalties,
            item.fine,
            item.assessed,
            item.quote,
        )
    step = scenario.turns[turn - 1]
    return ReplyScore(
        moves,
        criteria,
        _tip(step.focus, criteria, moves, playbooks),
        judgement.unsure,
        judgement.backend,
        judgement.fallback,
    )


def _customer_line(scenario: Scenario, turn: int, language: str) -> str:
    """What the customer said just before reply `turn` (their fallback line after turn 1)."""
    if turn == 1:
        return scenario.opening.get(language)
    return scenario.turns[turn - 2].branches[-1].say.get(language)


# ----- the whole drill ---------------------------------------------------------------------


def snap(average: float, fine: float | None = None) -> int:
    """The rubric score nearest an average of 7/5/3 scores.

    Exactly halfway (6 or 4) is a tie: the finer scale's average (`fine`) breaks it, and
    without one it rounds up.
    """
    for boundary, upper, lower in (
        ((OUTSTANDING + SATISFACTORY) / 2, OUTSTANDING, SATISFACTORY),
        ((SATISFACTORY + NEEDS_WORK) / 2, SATISFACTORY, NEEDS_WORK),
    ):
        if average > boundary:
            return upper
        if average == boundary:
            return upper if fine is None or fine >= boundary else lower
    return NEEDS_WORK


def drill_scores(
    turns: Sequence[Mapping[str, int]],
    criteria: Sequence[str],
    fine: Sequence[Mapping[str, float]] | None = None,
) -> dict[str, int]:
    """Each criterion's score for the drill: every turn where it applied (assessed there, or
    brought down by a slip), averaged and snapped, the finer scale breaking a tie."""
    result: dict[str, int] = {}
    for criterion in criteria:
        scores = [turn[criterion] for turn in turns if criterion in turn]
        if not scores:
            continue
        finer = None
        if fine is not None:
            values = [
                detail.get(criterion, float(turn[criterion]))
                for turn, detail in zip(turns, fine, strict=True)
                if criterion in turn
            ]
            finer = sum(values) / len(values)
        result[criterion] = snap(sum(scores) / len(scores), finer)
    return result


def weakest(scores: Mapping[str, int], order: Sequence[str]) -> str | None:
    """The lowest-scoring criterion; on a tie, the first in `order`."""
    ranked = [criterion for criterion in order if criterion in scores]
    return min(ranked, key=lambda criterion: scores[criterion]) if ranked else None


def drill_for(criterion: RubricCriterion, current: str | None = None) -> str:
    """The drill that trains `criterion`, preferring one other than the drill just done."""
    return next((drill for drill in criterion.drills if drill != current), criterion.drills[0])


# ----- a plain report, for `salescoach roleplay score` -------------------------------------


def report(result: ReplyScore, playbooks: Playbooks, language: str) -> dict[str, Any]:
    """The score as plain data: total, each criterion with the rubric line applied, the moves."""
    criteria = {}
    for criterion_id, item in result.criteria.items():
        criterion = playbooks.rubric_criteria[criterion_id]
        criteria[criterion_id] = {
            "score": item.score,
            "points": item.points,
            "line": criterion.levels[item.score].get(language),
            "moves": list(item.rewards),
            "penalties": list(item.penalties),
        }
    moves = [
        {
            "id": move.id,
            "kind": move.kind,
            "cue": move.cue,
            **({"size": move.size} if move.size else {}),
        }
        for move in result.moves
    ]
    return {
        "total": result.total,
        "maximum": result.maximum,
        "criteria": criteria,
        "moves": moves,
        "tip": result.tip,
        "fine": {criterion_id: item.fine for criterion_id, item in result.criteria.items()},
        "not_assessed": [c for c, item in result.criteria.items() if not item.assessed],
        "unsure": list(result.unsure),
        "backend": result.backend,
        **({"fallback": result.fallback} if result.fallback else {}),
    }


def language_of(text: str) -> str:
    """ "zh" for a reply with Chinese characters, otherwise "en"."""
    return "zh" if _CJK.search(text) else "en"
