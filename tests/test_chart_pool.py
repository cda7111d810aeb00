"""Chart workers do not outlive a bot killed with SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
import time

SCRIPT = """
import os, signal
from dialogs.manager.digest_chart import ChartPool
pool = ChartPool(workers=1)
pool.warm()
print(pool.call(os.getpid).result(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone in all but name: it holds no memory and runs nothing.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_a_worker_leaves_when_its_bot_is_killed() -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == -9, run.stderr
    worker = int(run.stdout.split()[0])
    deadline = time.monotonic() + 15
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(worker)
