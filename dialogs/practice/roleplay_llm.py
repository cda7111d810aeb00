"""An optional AI customer: an OpenAI-compatible chat endpoint voicing the scripted branch.

The script still decides what the customer means (the branch chosen by the
trainee's moves); the model only says it in character. Any failure (timeout,
HTTP error, malformed JSON, an empty or wrong-language answer) returns None and
the caller uses the scripted line, so the trainee never notices. The rubric
score never depends on the model. Logs name the failure, never the text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from playbooks.schema import Drill, Scenario
from understanding.llm import ChatEndpoint

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 8.0
MAX_REPLY = 600  # characters of the customer's line kept
MAX_COMMENT = 900
REPLY_TOKENS = 200
COMMENT_TOKENS = 300
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_QUOTES = "\"'\u201c\u201d\u2018\u2019\u300c\u300d\u300e\u300f"  # straight, curly, corner
LANGUAGE_NAMES = {"zh": "Simplified Chinese", "en": "English"}

# Instructions to the model, not text shown to anyone.
CUSTOMER_PROMPT = """\
You are playing the customer in a sales-training role-play. Stay in character and never \
say you are an AI, a coach or a role-play.
Who you are: {persona}
The situation: {situation}
What you privately think and feel (never state it outright): {brief}
Speak {language} only: one to three short spoken sentences, no stage directions, no \
quotation marks, no lists."""
STEER_PROMPT = """\
Your next line must mean this, in your own words and in character: {line}"""
COMMENT_PROMPT = """\
You are a sales coach reviewing a trainee's role-play. In {language}, write one short \
paragraph (at most 80 words): one thing the trainee did well and one thing to practise, \
quoting their words where useful. Do not give scores and do not contradict these rubric \
results: {scores}"""


@dataclass(frozen=True)
class Line:
    """One line of the conversation so far."""

    speaker: str  # customer | trainee
    text: str


class AiCustomer:
    """The customer voiced by an OpenAI-compatible chat endpoint, steered by the script."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.chat = ChatEndpoint(url, model, timeout=timeout, api_key=api_key, transport=transport)

    def customer_line(
        self,
        scenario: Scenario,
        drill: Drill | None,
        history: Sequence[Line],
        scripted: str,
        language: str,
    ) -> str | None:
        """The customer's next line in character, meaning `scripted`; None to use the script."""
        system = CUSTOMER_PROMPT.format(
            persona=scenario.persona.get(language),
            situation=scenario.situation.get(language),
            brief=drill.customer_brief.get(language) if drill else "",
            language=LANGUAGE_NAMES.get(language, "English"),
        )
        messages = [{"role": "system", "content": system}]
        messages += [
            {"role": "assistant" if turn.speaker == "customer" else "user", "content": turn.text}
            for turn in history
        ]
        messages.append({"role": "system", "content": STEER_PROMPT.format(line=scripted)})
        answer = self._complete(messages, REPLY_TOKENS)
        return _fit(answer, language, MAX_REPLY)

    def coach_comment(
        self, history: Sequence[Line], scores: dict[str, int], language: str
    ) -> str | None:
        """One paragraph of coaching on the finished drill, or None."""
        system = COMMENT_PROMPT.format(
            language=LANGUAGE_NAMES.get(language, "English"),
            scores=json.dumps(scores, ensure_ascii=False),
        )
        transcript = "\n".join(f"{turn.speaker}: {turn.text}" for turn in history)
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": transcript},
        ]
        return _fit(self._complete(messages, COMMENT_TOKENS), language, MAX_COMMENT)

    def _complete(self, messages: list[dict[str, str]], max_tokens: int) -> str | None:
        try:
            return self.chat.complete(messages, max_tokens, temperature=0.7)
        except httpx.HTTPStatusError as error:
            log.warning("AI customer: HTTP %s; using the script", error.response.status_code)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("AI customer: %s; using the script", type(error).__name__)
        return None


def _fit(answer: str | None, language: str, limit: int) -> str | None:
    """A usable answer: trimmed, unquoted, short enough, and in the drill's language."""
    if answer is None:
        return None
    text = " ".join(answer.split()).strip(_QUOTES + " ")
    if not text:
        log.warning("AI customer: empty answer; using the script")
        return None
    chinese = bool(_CJK.search(text))
    if chinese != (language == "zh"):
        log.warning("AI customer: answer in the wrong language; using the script")
        return None
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def ai_customer_from(
    url: str | None, model: str | None, timeout: float, api_key: str | None = None
) -> AiCustomer | None:
    """The AI customer when both the endpoint and the model are configured, else None."""
    if not url or not model:
        return None
    return AiCustomer(url, model, timeout=timeout, api_key=api_key)
