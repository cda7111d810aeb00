"""An optional LLM reader: an OpenAI-compatible chat endpoint that returns the same reading.

The endpoint gets the type definitions and the customer's words and must
answer with JSON. Any failure (timeout, HTTP error, malformed or off-list
JSON) returns the local model's reading instead, marked as a fallback, so a
rep never waits on or sees a broken answer. Logs name the failure, never the
text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx

from understanding.reading import Reading

log = logging.getLogger(__name__)

COMPLETIONS = "/chat/completions"
DEFAULT_TIMEOUT = 8.0
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)

# Instructions to the model, not text shown to anyone.
OBJECTION_PROMPT = """\
You classify a customer's sales objection, relayed by a sales rep, into exactly one of \
these types (id: definition):
{definitions}
Read past polite or indirect wording; when the customer says "not X, but Y", the type is \
Y's. If two objections are present, "type" is the one the customer stresses and \
"secondary" the other, else null. Answer with one JSON object only: {{"type": id, \
"secondary": id or null, "confidence": number from 0 to 1, "evidence": the shortest span \
of the customer's words, copied exactly, that shows the type}}."""


def endpoint(url: str) -> str:
    """The chat-completions URL for a base URL ("…/v1") or the full endpoint."""
    trimmed = url.rstrip("/")
    return trimmed if trimmed.endswith(COMPLETIONS) else trimmed + COMPLETIONS


class ChatEndpoint:
    """A small client for one OpenAI-compatible chat-completions endpoint."""

    def __init__(
        self,
        url: str,
        model: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = endpoint(url)
        self.model = model
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.transport = transport

    def complete(
        self, messages: list[dict[str, str]], max_tokens: int, temperature: float = 0.0
    ) -> str:
        """The first choice's text; raises httpx.HTTPError or ValueError on any failure."""
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            response = client.post(self.url, json=body, headers=self.headers)
        response.raise_for_status()
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (LookupError, TypeError) as error:
            raise ValueError("no message content") from error
        if not isinstance(content, str):
            raise ValueError("content is not text")
        return content


def _parse(answer: str, labels: Mapping[str, str], text: str) -> dict[str, Any]:
    """The reply's JSON, checked against the known labels; raises ValueError when off."""
    found = _JSON_OBJECT.search(answer)
    if found is None:
        raise ValueError("no JSON object")
    payload = json.loads(found.group(0))
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    label, secondary = payload.get("type"), payload.get("secondary")
    if not isinstance(label, str) or label not in labels:
        raise ValueError("unknown type")
    confidence = payload.get("confidence", 0.0)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise ValueError("confidence is not a number")
    if not 0.0 <= confidence <= 1.0:
        raise ValueError("confidence out of range")
    if not isinstance(secondary, str) or secondary not in labels or secondary == label:
        secondary = None
    evidence = payload.get("evidence")
    if not isinstance(evidence, str) or not evidence.strip() or evidence.strip() not in text:
        evidence = " ".join(text.split())
    return {
        "type": payload["type"],
        "secondary": secondary,
        "confidence": confidence,
        "evidence": evidence.strip(),
    }


class LlmObjectionReader:
    """Reads an objection with the endpoint, and with `fallback` whenever that fails."""

    def __init__(
        self, chat: ChatEndpoint, definitions: Mapping[str, str], confident_at: float = 0.6
    ) -> None:
        self.chat = chat
        self.definitions = dict(definitions)
        self.confident_at = confident_at

    def read(self, text: str, fallback: Reading) -> Reading:
        """The endpoint's reading of `text`, or `fallback` marked with why it was used."""
        listing = "\n".join(f"- {key}: {value}" for key, value in self.definitions.items())
        messages = [
            {"role": "system", "content": OBJECTION_PROMPT.format(definitions=listing)},
            {"role": "user", "content": text},
        ]
        try:
            parsed = _parse(self.chat.complete(messages, 200), self.definitions, text)
        except httpx.HTTPStatusError as error:
            return _fallen_back(fallback, f"HTTP {error.response.status_code}")
        except (httpx.HTTPError, ValueError) as error:
            return _fallen_back(fallback, type(error).__name__)
        ranked = [(parsed["type"], parsed["confidence"])]
        ranked += [(label, p) for label, p in fallback.candidates if label != parsed["type"]]
        return Reading(
            label=parsed["type"],
            confidence=parsed["confidence"],
            candidates=ranked,
            evidence=parsed["evidence"],
            confident=parsed["confidence"] >= self.confident_at,
            secondary=parsed["secondary"],
            backend="llm",
        )


def _fallen_back(reading: Reading, reason: str) -> Reading:
    log.warning("LLM reader: %s; using the local model", reason)
    return Reading(
        label=reading.label,
        confidence=reading.confidence,
        candidates=reading.candidates,
        evidence=reading.evidence,
        confident=reading.confident,
        secondary=reading.secondary,
        backend="local",
        extra={"fallback": reason},
    )
