"""Round trip of `1+1` through a Jupyter Server's kernel websocket, from Python.

A peer for the kernel bench: the same server hop Zest takes (websocket ->
jupyter-server -> ZMQ -> kernel), without Zest, so the table separates what
the server costs from what Zest costs.

Usage: /usr/bin/python3 bench/kernel_server_ws.py URL TOKEN KERNEL_ID N
Prints one JSON line: {"roundtrip_ms_median": ..., "roundtrip_ms_p90": ..., "n": N}
"""

import json
import statistics
import sys
import time
import uuid

from tornado.ioloop import IOLoop
from tornado.websocket import websocket_connect

WARMUP = 20


def execute_request(session, msg_id):
    return {
        "header": {
            "msg_id": msg_id,
            "username": "bench",
            "session": session,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "content": {
            "code": "1+1",
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        },
    }


async def main(url, token, kernel_id, n):
    ws = await websocket_connect(f"ws{url[len('http'):]}api/kernels/{kernel_id}/channels?token={token}")
    session = uuid.uuid4().hex
    times = []
    for i in range(WARMUP + n):
        msg_id = uuid.uuid4().hex
        started = time.perf_counter()
        await ws.write_message(json.dumps(execute_request(session, msg_id)))
        # Done like jupyter_client and Zest: the reply and the idle status both arrived.
        reply = idle = False
        while not (reply and idle):
            message = json.loads(await ws.read_message())
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            reply = reply or message["msg_type"] == "execute_reply"
            idle = idle or (message["msg_type"] == "status"
                            and message["content"]["execution_state"] == "idle")
        if i >= WARMUP:
            times.append((time.perf_counter() - started) * 1000)
    ws.close()
    times.sort()
    print(json.dumps({
        "roundtrip_ms_median": round(statistics.median(times), 3),
        "roundtrip_ms_p90": round(times[int(0.9 * len(times))], 3),
        "n": n,
    }))


if __name__ == "__main__":
    url, token, kernel_id, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    IOLoop.current().run_sync(lambda: main(url, token, kernel_id, n))
