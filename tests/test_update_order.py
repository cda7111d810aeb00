"""A user's updates run in order, even one arriving as the lock changes hands."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.updates import PerUserUpdateProcessor


def update_from(user_id: int, update_id: int) -> Update:
    person = {"id": user_id, "is_bot": False, "first_name": "Li"}
    message = {
        "message_id": update_id,
        "date": 0,
        "chat": {"id": user_id, "type": "private"},
        "from": person,
        "text": "hi",
    }
    return Update.de_json({"update_id": update_id, "message": message}, None)


def test_an_update_arriving_as_the_lock_passes_waits_for_the_one_woken() -> None:
    events: list[str] = []

    async def scenario() -> None:
        processor = PerUserUpdateProcessor()
        first_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def first() -> None:
            events.append("1 start")
            await asyncio.sleep(0.01)
            first_done.set_result(None)  # wakes the test before the lock's next holder
            events.append("1 end")

        async def later(name: str) -> None:
            events.append(f"{name} start")
            await asyncio.sleep(0.01)
            events.append(f"{name} end")

        one = asyncio.create_task(processor.do_process_update(update_from(5, 1), first()))
        await asyncio.sleep(0)
        two = asyncio.create_task(processor.do_process_update(update_from(5, 2), later("2")))
        await first_done  # the first update is releasing the lock; the second not yet running
        three = asyncio.create_task(processor.do_process_update(update_from(5, 3), later("3")))
        await asyncio.gather(one, two, three)

    asyncio.run(scenario())
    assert events == ["1 start", "1 end", "2 start", "2 end", "3 start", "3 end"]
