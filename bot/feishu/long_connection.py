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
        self.client: lark.ws.Client | None = None

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
        self.client = client = lark.ws.Client(
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
                asyncio.run_coroutine_threadsafe(_close(self.client), loop)
        if self.thread is not None:
            self.thread.join(timeout=5)


async def _close(client: lark.ws.Client | None) -> None:
    """Cancel the client's tasks, close its connection, then end the task `start()` waits on.

    The SDK has no way to stop its client, so this closes its connection itself,
    after its receive loop is gone (which would reconnect). Its ping loop sleeps
    again in a `finally` when cancelled, hence the repeats.
    """
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    waited_on = [task for task in tasks if getattr(task.get_coro(), "__name__", "") == "_select"]
    others = {task for task in tasks if task not in waited_on}
    for _attempt in range(3):
        for task in others:
            task.cancel()
        if not others:
            break
        _done, others = await asyncio.wait(others, timeout=0.5)
    connection = getattr(client, "_conn", None)
    if connection is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), timeout=2)
    for task in waited_on:  # last: once it ends, the loop stops running
        task.cancel()
