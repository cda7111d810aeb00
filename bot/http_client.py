"""The Bot API transport: python-telegram-bot's request interface over aiohttp.

PTB's default transport (httpx) spent about half of the bot's CPU under load
in bench/load_bench.py; aiohttp does the same work with a C parser and no
extra async layer. Errors map to PTB's own: timeouts to TimedOut, anything
else on the wire to NetworkError, so retries and the reminder dispatcher see
what they would with httpx.
"""

from __future__ import annotations

import aiohttp
from telegram._utils.defaultvalue import DefaultValue  # "not given", as PTB passes it
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# Telegram answers getUpdates long polls and uploads slowly; other calls should be quick.
DEFAULT_TIMEOUT = 5.0
POOL_TIMEOUT = 10.0
MEDIA_WRITE_TIMEOUT = 20.0


class AiohttpRequest(BaseRequest):
    """One aiohttp session with at most `connections` open connections to the Bot API."""

    def __init__(self, connections: int = 16, read_timeout: float | None = DEFAULT_TIMEOUT):
        self._connections = connections
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call gives none (PTB adds the long-poll time to it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session; safe to call again after shutdown."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one call; return the HTTP status and the body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        has_files = request_data is not None and request_data.contains_files
        read = _chosen(read_timeout, self._read_timeout)
        # aiohttp has no separate write timeout: an upload's time counts against reading.
        if has_files:
            read = _longest(read, _chosen(write_timeout, MEDIA_WRITE_TIMEOUT))
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=_chosen(pool_timeout, POOL_TIMEOUT),  # waiting for a free connection
            sock_connect=_chosen(connect_timeout, DEFAULT_TIMEOUT),
            sock_read=read,
        )
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        # Only the error's kind: aiohttp's messages carry the URL, and the URL the token.
        except TimeoutError as error:
            raise TimedOut(f"Timed out: aiohttp.{type(error).__name__}") from None
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}") from None


def _chosen(value: object, default: float | None) -> float | None:
    if isinstance(value, DefaultValue):
        return default
    return value if isinstance(value, int | float) else None


def _longest(first: float | None, second: float | None) -> float | None:
    if first is None or second is None:
        return None
    return max(first, second)


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields as httpx would send them: urlencoded, or multipart when uploading."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return fields
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
