"""Long-connection mode: the SDK's WebSocket client receives events, no public URL needed.

Like Telegram's long polling. The SDK's client runs its own event loop (kept in
a module global of lark_oapi.ws.client) and blocks in `start()`, so it gets a
thread of its own; its handlers only take the event in and hand the turn to the
bot's loop (bot/feishu/events.py), so the frame is acknowledged at once. When
several processes connect, Feishu hands each event to one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import lark_oapi as lark
import lark_oapi.ws.client as ws_client

log = logging.getLogger(__name__)


class LongConnection:
    """The SDK's WebSocket client on a thread of its own."""

    def __init__(
        self, app_id: str, app_secret: str, domain: str, handler: lark.EventDispatcherHandler
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.domain = domain.rstrip("/")
        self.handler = handler
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect in the background; the SDK reconnects by itself when the link drops."""
        self.thread = threading.Thread(target=self._run, name="feishu-long-connection", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # The SDK's client schedules everything on this module-level loop.
        ws_client.loop = loop
        self.loop = loop
        client = lark.ws.Client(
            self.app_id,
            self.app_secret,
            event_handler=self.handler,
            domain=self.domain,
            log_level=lark.LogLevel.WARNING,
        )
        try:
            client.start()
        except (RuntimeError, asyncio.CancelledError):  # stop() ended the client's tasks
            pass
        except Exception:
            log.exception("the Feishu long connection stopped")
        finally:
            with contextlib.suppress(Exception):
                loop.close()

    def stop(self) -> None:
        """End the client's tasks (the connection closes with them) and its thread."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(_cancel_all(), loop)
        if self.thread is not None:
            self.thread.join(timeout=5)


async def _cancel_all() -> None:
    """Cancel the client's tasks, then the one `start()` waits on, which ends the thread."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    waited_on = [task for task in tasks if getattr(task.get_coro(), "__name__", "") == "_select"]
    others = [task for task in tasks if task not in waited_on]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    for task in waited_on:  # last: once it ends, the loop stops running
        task.cancel()
