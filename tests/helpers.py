"""A conversation driver for engine-level tests: type, press, read."""

from __future__ import annotations

from dialogs.core.engine import Engine
from dialogs.core.io import Incoming, Outgoing, Sender


class Chat:
    """One user talking to the engine, remembering the last replies."""

    def __init__(
        self, engine: Engine, user_id: str = "1001", name: str = "Li Lei", language: str = "en"
    ) -> None:
        self.engine = engine
        self.sender = Sender("telegram", user_id, name, language)
        self.replies: list[Outgoing] = []

    def send(self, incoming: Incoming) -> list[Outgoing]:
        self.replies = self.engine.handle(self.sender, incoming)
        return self.replies

    def say(self, text: str) -> list[Outgoing]:
        return self.send(Incoming.typed(text))

    def press(self, label_contains: str) -> list[Outgoing]:
        return self.send(Incoming.pressed(self.button(label_contains)))

    def button(self, label_contains: str) -> str:
        """The data of the first button in the last replies whose label contains the text."""
        for reply in reversed(self.replies):
            for row in reply.buttons:
                for button in row:
                    if label_contains in button.label:
                        return button.data
        labels = [b.label for reply in self.replies for row in reply.buttons for b in row]
        raise AssertionError(f"no button containing {label_contains!r}; buttons: {labels}")

    @property
    def text(self) -> str:
        """All texts of the last replies, joined."""
        return "\n".join(reply.text for reply in self.replies)

    def labels(self) -> list[str]:
        return [b.label for reply in self.replies for row in reply.buttons for b in row]

    def onboard(self, role: str = "Sales rep", zone: str = "Shanghai") -> None:
        """Complete onboarding with sensible answers."""
        self.say("/start")
        self.press(self.sender.display_name or "keep")
        self.press(role)
        self.press(zone)
        if any("⏭" in label for label in self.labels()):  # the optional team question
            self.say("/skip")
