"""The readers a deployment uses: its local models, and the optional LLM for objections."""

from __future__ import annotations

from dataclasses import dataclass, field

from understanding.llm import LlmObjectionReader
from understanding.models import INTENT_MODEL, OBJECTION_MODEL, OBJECTIVE_MODEL, ModelStore
from understanding.reading import NotUnderstood, Reading, read

CUSTOMER_ACTION = "customer_action"


@dataclass
class Understanding:
    """Reads objections, visit objectives and free text; every method may raise NotUnderstood."""

    store: ModelStore = field(default_factory=ModelStore)
    llm: LlmObjectionReader | None = None

    def warm(self) -> None:
        """Load every model now, so the first person to type does not wait for it."""
        for kind in (OBJECTION_MODEL, OBJECTIVE_MODEL, INTENT_MODEL):
            self.store.get(kind)

    def objection(self, text: str, *, backend: str = "auto") -> Reading:
        """The objection type of a customer's words (the LLM's when configured and asked)."""
        local = read(self.store.get(OBJECTION_MODEL), text)
        if self.llm is None or backend == "local":
            return local
        return self.llm.read(text, local)

    def objective(self, text: str) -> Reading:
        """Whether a visit objective names a customer action (`customer_action`) or not."""
        return read(self.store.get(OBJECTIVE_MODEL), text)

    def names_customer_action(self, objective: str) -> bool:
        """True when the objective asks the customer to do something concrete."""
        try:
            return self.objective(objective).label == CUSTOMER_ACTION
        except NotUnderstood:
            return False

    def intent(self, text: str) -> Reading:
        """What someone typing outside a conversation wants (objection, remind, method…)."""
        return read(self.store.get(INTENT_MODEL), text)
