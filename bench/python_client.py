"""The Python side of ``bench/python_client.ts``: sequential ``execute`` round trips per second.

Reads one JSON command per line on stdin, ``{"contender": NAME, "ms": MS}``, runs that contender
back to back for about MS milliseconds, and answers ``{"rate": ROUND_TRIPS_PER_SECOND}`` on one
line. Contenders, each a Greeting task on the ``greeter`` service:

- ``client``: ``zest_client.Client.execute`` (keep-alive HTTP: POST /tasks, GET .../outcome?wait=)
- ``async``: ``zest_client.AsyncClient.execute``, awaited one at a time in one event loop
- ``urllib``: the same two requests with ``urllib.request``, as a script would write them by
  hand (a new connection per request, like curl)

Needs ZEST_URL (http://…) and ZEST_TOKEN.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "clients" / "python"))

from zest_client import AsyncClient, Client  # noqa: E402

FIELDS = {"name": "Ada"}
EXPECTED = "Hello Ada from greeter"


def rate(once, ms: float) -> float:
    done = 0
    start = time.perf_counter()
    deadline = start + ms / 1000
    while time.perf_counter() < deadline:
        once()
        done += 1
    return done / (time.perf_counter() - start)


def urllib_execute(base: str, token: str):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"service": "greeter", "type": "Greeting", "fields": FIELDS}).encode()

    def once() -> None:
        submit = urllib.request.Request(f"{base}/tasks", data=body, headers=headers, method="POST")
        with opener.open(submit) as response:
            task_id = json.load(response)["taskId"]
        wait = urllib.request.Request(f"{base}/tasks/{task_id}/outcome?wait=30s", headers=headers)
        with opener.open(wait) as response:
            outcome = json.load(response)
        assert outcome["result"] == EXPECTED, outcome

    return once


def main() -> None:
    base = os.environ["ZEST_URL"].rstrip("/")
    client = Client()
    loop = asyncio.new_event_loop()
    async_client = AsyncClient()

    def sync_once() -> None:
        assert client.execute("greeter", "Greeting", FIELDS) == EXPECTED

    async def async_round(ms: float) -> float:
        done = 0
        start = time.perf_counter()
        deadline = start + ms / 1000
        while time.perf_counter() < deadline:
            assert await async_client.execute("greeter", "Greeting", FIELDS) == EXPECTED
            done += 1
        return done / (time.perf_counter() - start)

    contenders = {
        "client": lambda ms: rate(sync_once, ms),
        "async": lambda ms: loop.run_until_complete(async_round(ms)),
        "urllib": lambda ms: rate(urllib_execute(base, os.environ["ZEST_TOKEN"]), ms),
    }
    for line in sys.stdin:
        command = json.loads(line)
        print(json.dumps({"rate": contenders[command["contender"]](command["ms"])}), flush=True)
    loop.run_until_complete(async_client.close())
    loop.close()
    client.close()


if __name__ == "__main__":
    main()
