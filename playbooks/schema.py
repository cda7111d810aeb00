"""Pydantic models for every kind of playbook content, so bad YAML fails loudly and early."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

LANGUAGES: tuple[str, str] = ("zh", "en")

Level = Literal["high", "low"]
SpinStage = Literal["situation", "problem", "implication", "need_payoff"]
Territory = Literal["ours", "neutral", "theirs"]
Lead = Literal["lead", "even", "trail"]
OpeningClass = Literal["normal", "problem", "abnormal"]
GridLetter = Literal["A", "B", "C", "D", "E", "F", "G", "H", "I"]
Skill = Literal["appointment", "introduction", "probing", "presentation", "objection"]
AnswerKind = Literal["text", "choice", "multi_choice", "scale", "yes_no"]
DebriefPhase = Literal["feelings", "objective_plan_result", "why_buyer", "best_improve", "practice"]
# Where a piece of advice comes from: the source material ("seed") or written by us ("ours"),
# so advice the method does not back can be shown as ours.
Source = Literal["seed", "ours"]
QuestionForm = Literal["open", "closed", "confirming"]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def _in_range(what: str, low: int, high: int) -> AfterValidator:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"{what} out of range: {value} (allowed {low}–{high})")
        return value

    return AfterValidator(check)


Threshold = Annotated[int, _in_range("threshold", 1, 10)]
Score = Annotated[int, _in_range("score", 1, 10)]
ClassNumber = Annotated[int, _in_range("class number", 1, 4)]


class Model(BaseModel):
    """Base for all playbook models: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _is_blank(value: Any, *, is_list: bool) -> bool:
    if value is None:
        return True
    if is_list:
        return isinstance(value, list) and not value
    return isinstance(value, str) and not value.strip()


def _missing_languages(data: dict[Any, Any], *, is_list: bool) -> list[str]:
    return [lang for lang in LANGUAGES if _is_blank(data.get(lang), is_list=is_list)]


def _require_languages(data: Any, *, is_list: bool) -> Any:
    if isinstance(data, str | list):
        raise ValueError("expected a mapping with zh and en translations")
    if isinstance(data, dict):
        missing = _missing_languages(data, is_list=is_list)
        if missing:
            raise ValueError(f"missing translation ({', '.join(missing)})")
    return data


class Localized(Model):
    """One piece of user-facing text in both languages."""

    zh: str
    en: str

    @model_validator(mode="before")
    @classmethod
    def _both_languages(cls, data: Any) -> Any:
        return _require_languages(data, is_list=False)

    def get(self, language: str) -> str:
        """The text in `language` ("zh" or "en"; anything else falls back to English)."""
        return self.zh if language == "zh" else self.en


class LocalizedList(Model):
    """A list of phrases per language (examples, cue words); the lists need not align."""

    zh: list[str]
    en: list[str]

    @model_validator(mode="before")
    @classmethod
    def _both_languages(cls, data: Any) -> Any:
        return _require_languages(data, is_list=True)

    def get(self, language: str) -> list[str]:
        """The phrases in `language`."""
        return self.zh if language == "zh" else self.en

    def all(self) -> list[str]:
        """The phrases of both languages."""
        return [*self.zh, *self.en]


class Item(Model):
    """Anything addressable by id; ids are unique per section and overridable by id."""

    id: Annotated[str, Field(pattern=ID_PATTERN, max_length=40)]


class Term(Item):
    """A named concept with a one-line explanation."""

    label: Localized
    description: Localized


# --- questions.yaml ---------------------------------------------------------


class Industry(Item):
    label: Localized


class Direction(Term):
    """One of the six background-probing directions around the product."""


class SpinStageInfo(Term):
    """A SPIN stage's label and what its questions are for."""


ANY_INDUSTRY = "any"


def _any_as_list(value: Any) -> Any:
    return [value] if value == ANY_INDUSTRY else value


Industries = Annotated[list[str], BeforeValidator(_any_as_list)]
"""Industry ids a piece of content suits, or "any"; content without the field suits any."""


def suits_industries(tags: Collection[str], industries: Collection[str] | None) -> bool:
    """Whether content tagged `tags` suits any of `industries` (None or empty: no filter)."""
    return not industries or ANY_INDUSTRY in tags or any(item in tags for item in industries)


class Question(Item):
    stage: SpinStage
    direction: str | None = None
    form: QuestionForm | None = None  # shown only where the form matters (closed questions)
    industries: Industries = [ANY_INDUSTRY]
    text: Localized

    def suits(self, industry: str | None) -> bool:
        """True when this question fits `industry` (None means any)."""
        return industry is None or ANY_INDUSTRY in self.industries or industry in self.industries


# --- objections.yaml --------------------------------------------------------


class ResponseStrategy(Model):
    name: Localized
    how: Localized


class Objection(Item):
    label: Localized
    description: Localized
    examples: LocalizedList
    probing: Annotated[list[Localized], Field(min_length=3)]
    strategies: Annotated[list[ResponseStrategy], Field(min_length=3)]
    confirm: Localized
    drill: str


# --- frameworks.yaml --------------------------------------------------------


class Drill(Item):
    title: Localized
    skill: Skill
    setup: Localized
    customer_brief: Localized
    rep_goal: Localized
    objections: list[str] = []
    # Drills written for some industries only (insurance cold calls); "any" by default.
    industries: Industries = [ANY_INDUSTRY]


class CompetitiveStrategy(Term):
    when: Localized
    risk: Localized
    # A retreat strategy is never the first move: only once the deal as a whole is blocked.
    retreat: bool = False


class FunnelStage(Term):
    exit_criteria: Localized


class DecisionRole(Term):
    typical_titles: LocalizedList
    what_they_care_about: Localized


class Stance(Term):
    approach: Localized


class RelationshipType(Term):
    personal_trust: bool
    business: bool
    next_step: Localized


class CallOutcome(Term):
    success: bool


class ProofType(Term):
    best_for: Localized


class Thresholds(Model):
    """A score at or above the threshold counts as high."""

    short_term: Threshold
    long_term: Threshold


class ValueClass(Model):
    number: ClassNumber
    short_term: Level
    long_term: Level
    label: Localized
    action: Localized


class PortfolioDiagnosis(Model):
    dominant_class: ClassNumber
    diagnosis: Localized
    action: Localized


class ValueMatrix(Model):
    thresholds: Thresholds
    short_term_guide: Localized
    long_term_guide: Localized
    classes: list[ValueClass]
    portfolio: list[PortfolioDiagnosis]

    @model_validator(mode="after")
    def _each_quadrant_once(self) -> ValueMatrix:
        seen = {(c.short_term, c.long_term) for c in self.classes}
        if len(seen) != 4 or len(self.classes) != 4:
            raise ValueError("value matrix needs exactly one class per short/long high/low pair")
        return self

    def level(self, score: int, axis: Literal["short_term", "long_term"]) -> Level:
        """Whether `score` on `axis` counts as high or low."""
        return "high" if score >= getattr(self.thresholds, axis) else "low"

    def classify(self, short_term: int, long_term: int) -> ValueClass:
        """The class of an opportunity from its two 1–10 scores."""
        key = (self.level(short_term, "short_term"), self.level(long_term, "long_term"))
        return next(c for c in self.classes if (c.short_term, c.long_term) == key)

    def diagnosis(self, dominant_class: int) -> PortfolioDiagnosis | None:
        """The manager's diagnosis when `dominant_class` dominates the pipeline."""
        return next((d for d in self.portfolio if d.dominant_class == dominant_class), None)


class AxisValue(Model):
    id: str
    label: Localized
    description: Localized


class OpeningCell(Model):
    letter: GridLetter
    territory: Territory
    lead: Lead
    opening_class: OpeningClass = Field(alias="class")
    situation: Localized
    move: Localized
    # None: no classic competitive strategy is the first move here; the move is the advice.
    strategy: str | None = None
    source: Source = "seed"


class OpeningGrid(Model):
    territories: list[AxisValue]
    leads: list[AxisValue]
    classes: list[AxisValue]
    cells: list[OpeningCell]

    @model_validator(mode="after")
    def _nine_distinct_cells(self) -> OpeningGrid:
        pairs = {(c.territory, c.lead) for c in self.cells}
        letters = {c.letter for c in self.cells}
        if len(self.cells) != 9 or len(pairs) != 9 or len(letters) != 9:
            raise ValueError("opening grid needs 9 cells: one per territory × lead, letters A–I")
        return self

    def cell(self, territory: Territory, lead: Lead) -> OpeningCell:
        """The opening position for a territory and the current lead."""
        return next(c for c in self.cells if (c.territory, c.lead) == (territory, lead))

    def by_letter(self, letter: str) -> OpeningCell:
        """The cell with `letter` (A–I)."""
        return next(c for c in self.cells if c.letter == letter)


class ExistingTier(Model):
    id: str
    contribution: Level
    stability: Level
    label: Localized
    strategy: Localized
    rep_time: Localized
    actions: list[Localized]
    source: Source = "seed"


class PotentialTier(Model):
    id: str
    expected_contribution: Level
    intent: Level
    label: Localized
    strategy: Localized
    rep_time: Localized
    actions: list[Localized]
    source: Source = "seed"


class ReasonCounter(Model):
    id: str
    reason: Localized
    counter: Localized


class AccountTiers(Model):
    existing: list[ExistingTier]
    potential: list[PotentialTier]
    wavering_reasons: list[ReasonCounter]
    low_intent_reasons: list[ReasonCounter]
    future_sources: list[Localized]

    @model_validator(mode="after")
    def _each_quadrant_once(self) -> AccountTiers:
        existing = {(t.contribution, t.stability) for t in self.existing}
        potential = {(t.expected_contribution, t.intent) for t in self.potential}
        if len(self.existing) != 4 or len(existing) != 4:
            raise ValueError("existing tiers need one tier per contribution × stability pair")
        if len(self.potential) != 4 or len(potential) != 4:
            raise ValueError("potential tiers need one tier per contribution × intent pair")
        return self

    def existing_tier(self, contribution: Level, stability: Level) -> ExistingTier:
        """The tier of an existing customer."""
        return next(
            t for t in self.existing if (t.contribution, t.stability) == (contribution, stability)
        )

    def potential_tier(self, expected_contribution: Level, intent: Level) -> PotentialTier:
        """The tier of a potential customer."""
        pair = (expected_contribution, intent)
        return next(t for t in self.potential if (t.expected_contribution, t.intent) == pair)


# --- coaching.yaml ----------------------------------------------------------


class ChecklistItem(Item):
    prompt: Localized
    why: Localized
    answer: AnswerKind = "text"
    choices_from: str | None = None
    optional: bool = False
    after: str | None = None


class ObjectiveCoaching(Model):
    """What the coach says about a visit objective that names no customer action."""

    vague_feedback: Localized
    good_examples: LocalizedList
    rewrite_prompt: Localized


class DebriefQuestion(Item):
    phase: DebriefPhase
    text: Localized
    coach_note: Localized | None = None


class RatingLevel(Model):
    score: Score
    label: Localized


class RatingItem(Item):
    label: Localized
    question: Localized
    levels: dict[int, Localized]


class SelfRating(Model):
    scale: list[RatingLevel]
    items: list[RatingItem]

    @model_validator(mode="after")
    def _levels_match_scale(self) -> SelfRating:
        scores = {level.score for level in self.scale}
        for item in self.items:
            if set(item.levels) != scores:
                raise ValueError(f"rating item '{item.id}' must describe scores {sorted(scores)}")
        return self

    @property
    def maximum(self) -> int:
        """The best possible total."""
        return max(level.score for level in self.scale) * len(self.items)


# --- moves.yaml and roleplay.yaml -------------------------------------------

MoveKind = Literal["reward", "penalty"]
Measure = Literal["brief", "long", "question"]
RUBRIC_SCORES: tuple[int, int, int] = (7, 5, 3)
MIN_TURNS, MAX_TURNS = 3, 6


def _compiles(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"pattern {pattern!r} is not a valid regular expression: {exc}"
            ) from exc
    return patterns


class Move(Item):
    """Something a reply does that the rubric rewards or the method forbids, and how to see it.

    A move is seen through its cues (phrases; "..." allows a short gap), its
    regular-expression patterns, or a measure of the whole reply.
    """

    kind: MoveKind
    label: Localized
    cues: LocalizedList | None = None
    patterns: Annotated[list[str], AfterValidator(_compiles)] = []
    also: LocalizedList | None = None  # one of these must appear in the same sentence too
    in_question: bool = False  # the cue counts only inside a question
    in_statement: bool = False  # the cue counts only outside questions
    without_question: bool = False  # the move counts only when the reply asks nothing
    measure: Measure | None = None
    tip: Localized

    @model_validator(mode="after")
    def _one_way_to_see_it(self) -> Move:
        matched = self.cues is not None or bool(self.patterns)
        if matched == (self.measure is not None):
            raise ValueError(f"move '{self.id}' needs cues or patterns, or else a measure")
        return self


class ReplyRules(Model):
    """How a reply is cut into sentences and measured, in both languages."""

    question_endings: list[str]  # a sentence ending in one of these asks something
    # English: a sentence starting with one of these asks something; Chinese: containing one.
    question_words: LocalizedList
    negations: LocalizedList  # a cue right after one of these does not count
    brief_words: tuple[int, int]  # English: a reply of this many words is brief (min, max)
    brief_chars: tuple[int, int]  # Chinese: the same in characters
    long_words: int  # more than this is long-winded
    long_chars: int


class RubricCriterion(Item):
    """One line of the role-play form: the moves that decide it and what earns 7, 5 or 3."""

    label: Localized
    description: Localized
    rewards: dict[str, float]  # move id → points
    penalties: list[str] = []  # any of these means 3
    outstanding: float  # points needed for 7
    satisfactory: float  # points needed for 5 (0: a clean reply is satisfactory)
    levels: dict[int, Localized]
    drills: Annotated[list[str], Field(min_length=1)]  # the drills that train it, best first

    @model_validator(mode="after")
    def _levels_and_thresholds(self) -> RubricCriterion:
        if set(self.levels) != set(RUBRIC_SCORES):
            raise ValueError(f"criterion '{self.id}' must describe scores 7, 5 and 3")
        if not 0 <= self.satisfactory < self.outstanding:
            raise ValueError(f"criterion '{self.id}' needs 0 <= satisfactory < outstanding")
        return self


class Branch(Model):
    """One way the customer answers, taken when the reply shows any of `if_any` and none of
    `if_none` (an empty list is no condition)."""

    if_any: list[str] = []
    if_none: list[str] = []
    say: Localized
    # The customer agrees to a proposal: the time (and place) in `say` become the ones the
    # trainee offered, when they offered others.
    follows_offer: bool = False
    # A model reply to this line, shown with the model answers when the trainee heard it
    # (the next turn's own model answer replies to the line a model answer leads to).
    model_answer: Localized | None = None

    @property
    def unconditional(self) -> bool:
        """True for the fallback branch."""
        return not self.if_any and not self.if_none


class ScenarioTurn(Model):
    """One reply of the trainee: what it is judged on, what it should show, and the answers."""

    assess: Annotated[list[str], Field(min_length=1)]  # criterion ids
    focus: list[str] = []  # move ids worth suggesting, most important first
    model_answer: Localized
    branches: Annotated[list[Branch], Field(min_length=1)]

    @model_validator(mode="after")
    def _ends_with_a_fallback(self) -> ScenarioTurn:
        if not self.branches[-1].unconditional:
            raise ValueError("the last branch of a turn must have no condition")
        return self


class Scenario(Item):
    """A role-play: who the customer is, what they say, and how each reply is judged.

    Its id is the id of the drill it plays.
    """

    customer: Localized  # how the customer is named in the chat
    persona: Localized
    situation: Localized
    opening: Localized
    criteria: Annotated[list[str], Field(min_length=1)]
    turns: Annotated[list[ScenarioTurn], Field(min_length=MIN_TURNS, max_length=MAX_TURNS)]
    industries: Industries = [ANY_INDUSTRY]
    places: list[Localized] = []  # sites the trainee may propose (for follows_offer lines)

    @model_validator(mode="after")
    def _every_criterion_assessed(self) -> Scenario:
        assessed = {criterion for turn in self.turns for criterion in turn.assess}
        if not assessed <= set(self.criteria):
            extra = ", ".join(sorted(assessed - set(self.criteria)))
            raise ValueError(f"turns assess criteria the scenario does not list: {extra}")
        if set(self.criteria) - assessed:
            missing = ", ".join(c for c in self.criteria if c not in assessed)
            raise ValueError(f"criteria no turn assesses: {missing}")
        return self


# --- content from the seeds: contacts, relationships, probing, coaching, openings -----------


class ContactTactic(Term):
    """A way past a contact who cannot decide, to the people who do (frameworks.yaml)."""


class RelationshipLevel(Model):
    """One level of relationship marketing: what holds the customer at that level."""

    level: Annotated[int, _in_range("relationship level", 1, 3)]
    label: Localized
    description: Localized


class RelationshipMarketing(Model):
    """The levels a relationship climbs, and whose interest is served first."""

    levels: Annotated[list[RelationshipLevel], Field(min_length=1)]
    organisation_first: Localized


class ProbingTechnique(Term):
    """One of the techniques of background probing (questions.yaml)."""


class QuestionFormInfo(Term):
    """A question form (open, closed, confirming): what it does and an example."""

    example: Localized


class CoachingMode(Model):
    label: Localized
    how: Localized


class ManagerCoaching(Model):
    """How a manager coaches a rep's visit: the deal's size sets how much goes into the plan."""

    # A deal counts as large from this short-term gain score (the value matrix's 1–10).
    large_deal_from: Threshold
    small_deal: CoachingMode
    large_deal: CoachingMode
    ride_along: Localized

    def mode(self, short_term: int | None) -> CoachingMode | None:
        """The coaching mode for a deal's short-term score; None when it was never scored."""
        if short_term is None:
            return None
        return self.large_deal if short_term >= self.large_deal_from else self.small_deal


class OpeningSignal(Item):
    """What a team's mix of opening positions says, and when the mix says it.

    It matches when the letters in `many` make up at least `min_share` of the openings,
    none of the letters in `absent` occurs, and there are at least `min_openings`.
    """

    many: Annotated[list[GridLetter], Field(min_length=1)]
    min_share: Annotated[float, Field(gt=0, le=1)]
    absent: list[GridLetter] = []
    min_openings: Annotated[int, Field(ge=1)] = 1
    source: Source = "seed"
    meaning: Localized
    action: Localized

    def matches(self, counts: Mapping[str, int]) -> bool:
        """Whether opening counts per letter show this signal."""
        total = sum(counts.values())
        many = sum(counts.get(letter, 0) for letter in self.many)
        if total < self.min_openings or not many:
            return False
        return many / total >= self.min_share and not any(counts.get(x) for x in self.absent)


# --- trio.yaml ----------------------------------------------------------------


class ObserverItem(Item):
    """One item of the observer's form in role-play in threes, scored 7, 5 or 3."""

    label: Localized
    hint: Localized


class TrioObjection(Model):
    """An objection the customer raises, and the moment to soften it."""

    raise_: Localized = Field(alias="raise")
    soften: Localized


class TrioCard(Item):
    """A role-play in threes on a scenario (same id): the rep's situation and the
    customer's private brief."""

    minutes: Annotated[int, _in_range("minutes", 1, 60)]
    rep: Localized
    who: Localized
    hidden_need: Localized
    objections: Annotated[list[TrioObjection], Field(min_length=1)]


# --- glossary.yaml ----------------------------------------------------------

GLOSSARY_COMMANDS = frozenset(
    {
        "visit", "probe", "objection", "debrief", "account", "practice", "today", "remind",
        "team", "digest",
    }
)  # fmt: skip


class GlossaryEntry(Item):
    """A method term: the ways people ask for it, a phone-sized answer, and where to use it."""

    names: LocalizedList
    answer: Localized
    command: str | None = None

    @model_validator(mode="after")
    def _known_command(self) -> GlossaryEntry:
        if self.command is not None and self.command not in GLOSSARY_COMMANDS:
            raise ValueError(f"command must be one of {', '.join(sorted(GLOSSARY_COMMANDS))}")
        if not self.names.zh or not self.names.en:
            raise ValueError("names need at least one entry per language")
        return self


# --- files and the merged set -----------------------------------------------

# ----- the pipeline (pipeline.yaml) ---------------------------------------------------

Percent = Annotated[int, _in_range("percentage", 0, 100)]
CURRENCY_PATTERN = r"^[A-Z]{3}$"


class PipelineStage(Model):
    """A funnel stage and the chance, in percent, that a deal in it closes."""

    stage: str
    probability: Percent


class RiskThresholds(Model):
    """When an open deal counts as at risk in the weekly digest."""

    no_visit_days: Annotated[int, _in_range("days", 1, 365)]
    no_visit_value_classes: list[ClassNumber]
    stuck_weeks: Annotated[int, _in_range("weeks", 1, 104)]


class PortfolioThresholds(Model):
    """When one value class dominates the open opportunities."""

    dominant_share: Annotated[int, _in_range("share", 1, 100)]
    min_open: Annotated[int, _in_range("minimum", 1, 1000)]


class Pipeline(Model):
    """Stage probabilities, the default currency and the digest's thresholds."""

    currency: str = Field(pattern=CURRENCY_PATTERN)
    stages: list[PipelineStage]
    won_stage: str
    risk: RiskThresholds
    portfolio: PortfolioThresholds

    @model_validator(mode="after")
    def _stages_once_and_won_among_them(self) -> Pipeline:
        ids = [item.stage for item in self.stages]
        if not ids or len(set(ids)) != len(ids):
            raise ValueError("pipeline stages must be listed once each")
        if self.won_stage not in ids:
            raise ValueError(f"won_stage '{self.won_stage}' is not one of the pipeline stages")
        return self

    def probability(self, stage: str) -> int:
        """The close probability (percent) of a deal in `stage`; 0 for a stage not listed."""
        return next((item.probability for item in self.stages if item.stage == stage), 0)

    @property
    def open_stages(self) -> list[str]:
        """The stages a deal can be in while still open, in funnel order."""
        return [item.stage for item in self.stages if item.stage != self.won_stage]


COLLECTIONS: dict[str, type[Item]] = {
    "industries": Industry,
    "directions": Direction,
    "spin_stages": SpinStageInfo,
    "questions": Question,
    "objections": Objection,
    "drills": Drill,
    "competitive_strategies": CompetitiveStrategy,
    "funnel_stages": FunnelStage,
    "decision_roles": DecisionRole,
    "stances": Stance,
    "relationship_types": RelationshipType,
    "call_outcomes": CallOutcome,
    "proof_types": ProofType,
    "pre_visit_checklist": ChecklistItem,
    "debrief_questions": DebriefQuestion,
    "moves": Move,
    "rubric_criteria": RubricCriterion,
    "scenarios": Scenario,
    "glossary": GlossaryEntry,
    "contact_tactics": ContactTactic,
    "probing_techniques": ProbingTechnique,
    "question_forms": QuestionFormInfo,
    "opening_signals": OpeningSignal,
    "observer_form": ObserverItem,
    "trio_cards": TrioCard,
}
"""Sections that are lists of items with ids: merged by id across files."""

SINGLETONS: dict[str, type[Model]] = {
    "value_matrix": ValueMatrix,
    "opening_grid": OpeningGrid,
    "account_tiers": AccountTiers,
    "objective_coaching": ObjectiveCoaching,
    "self_rating": SelfRating,
    "reply_rules": ReplyRules,
    "relationship_marketing": RelationshipMarketing,
    "manager_coaching": ManagerCoaching,
    "pipeline": Pipeline,
}
"""Sections that are one object: a company file replaces the default one whole."""


class PlaybookFile(Model):
    """One YAML file: any subset of the sections."""

    industries: list[Industry] | None = None
    directions: list[Direction] | None = None
    spin_stages: list[SpinStageInfo] | None = None
    questions: list[Question] | None = None
    objections: list[Objection] | None = None
    drills: list[Drill] | None = None
    competitive_strategies: list[CompetitiveStrategy] | None = None
    funnel_stages: list[FunnelStage] | None = None
    decision_roles: list[DecisionRole] | None = None
    stances: list[Stance] | None = None
    relationship_types: list[RelationshipType] | None = None
    call_outcomes: list[CallOutcome] | None = None
    proof_types: list[ProofType] | None = None
    pre_visit_checklist: list[ChecklistItem] | None = None
    debrief_questions: list[DebriefQuestion] | None = None
    moves: list[Move] | None = None
    rubric_criteria: list[RubricCriterion] | None = None
    glossary: list[GlossaryEntry] | None = None
    scenarios: list[Scenario] | None = None
    observer_form: list[ObserverItem] | None = None
    trio_cards: list[TrioCard] | None = None
    value_matrix: ValueMatrix | None = None
    opening_grid: OpeningGrid | None = None
    account_tiers: AccountTiers | None = None
    objective_coaching: ObjectiveCoaching | None = None
    self_rating: SelfRating | None = None
    reply_rules: ReplyRules | None = None
    contact_tactics: list[ContactTactic] | None = None
    probing_techniques: list[ProbingTechnique] | None = None
    question_forms: list[QuestionFormInfo] | None = None
    opening_signals: list[OpeningSignal] | None = None
    relationship_marketing: RelationshipMarketing | None = None
    manager_coaching: ManagerCoaching | None = None
    pipeline: Pipeline | None = None


class Playbooks(Model):
    """The merged, checked content the dialogs read; collections are keyed by id, in order."""

    industries: dict[str, Industry]
    directions: dict[str, Direction]
    spin_stages: dict[str, SpinStageInfo]
    questions: dict[str, Question]
    objections: dict[str, Objection]
    drills: dict[str, Drill]
    competitive_strategies: dict[str, CompetitiveStrategy]
    funnel_stages: dict[str, FunnelStage]
    decision_roles: dict[str, DecisionRole]
    stances: dict[str, Stance]
    relationship_types: dict[str, RelationshipType]
    call_outcomes: dict[str, CallOutcome]
    proof_types: dict[str, ProofType]
    pre_visit_checklist: dict[str, ChecklistItem]
    debrief_questions: dict[str, DebriefQuestion]
    moves: dict[str, Move]
    rubric_criteria: dict[str, RubricCriterion]
    scenarios: dict[str, Scenario]
    glossary: dict[str, GlossaryEntry]
    observer_form: dict[str, ObserverItem]
    trio_cards: dict[str, TrioCard]
    value_matrix: ValueMatrix
    opening_grid: OpeningGrid
    account_tiers: AccountTiers
    objective_coaching: ObjectiveCoaching
    self_rating: SelfRating
    reply_rules: ReplyRules
    contact_tactics: dict[str, ContactTactic]
    probing_techniques: dict[str, ProbingTechnique]
    question_forms: dict[str, QuestionFormInfo]
    opening_signals: dict[str, OpeningSignal]
    relationship_marketing: RelationshipMarketing
    manager_coaching: ManagerCoaching
    pipeline: Pipeline

    def questions_for(
        self, stage: SpinStage, industry: str | None = None, direction: str | None = None
    ) -> list[Question]:
        """The questions of a SPIN stage that suit an industry (and a direction, if given)."""
        return [
            q
            for q in self.questions.values()
            if q.stage == stage
            and q.suits(industry)
            and (direction is None or q.direction == direction)
        ]

    def drill_suits(self, drill_id: str, industries: Collection[str] | None) -> bool:
        """Whether a drill (and its role-play scenario) suits any of `industries`.

        None or an empty collection means the industry is unknown: everything suits.
        """
        drill, scenario = self.drills.get(drill_id), self.scenarios.get(drill_id)
        return all(
            suits_industries(item.industries, industries)
            for item in (drill, scenario)
            if item is not None
        )
