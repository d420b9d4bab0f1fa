"""Peer measurement: a kernel driven directly by jupyter_client over ZMQ.

Gives the numbers a Jupyter-Server-based runtime is compared with: no HTTP,
no websocket, just the client library every Jupyter frontend builds on.

Run with Debian's Python (the one that has jupyter_client):

    /usr/bin/python3 bench/kernel_direct.py --n 200

Prints one JSON line, all times in milliseconds:

    {"roundtrip_ms_median": ..., "roundtrip_ms_p90": ..., "start_ms": ...,
     "restart_ms": ..., "n": 200, "kernel": "python3"}

A round trip is one ``1+1`` execute_request until both its execute_reply
and the kernel's ``idle`` status for it arrived (what a caller waits for
before it may send the next request). The request is the one Zest sends:
``store_history=True`` (IPython then records the input and counts the
execution, which Zest reports; it costs the kernel ~1 ms, measured here),
``allow_stdin=False``, ``stop_on_error=False``. ``start_ms`` and ``restart_ms`` run
until the kernel answers a ``kernel_info_request``.
"""

import argparse
import json
import os
import statistics
import sys
import time

from jupyter_client.manager import KernelManager

TIMEOUT_S = 30


def wait_ready(client):
    client.wait_for_ready(timeout=TIMEOUT_S)


def execute_and_wait(client, code):
    msg_id = client.execute(
        code, silent=False, store_history=True, allow_stdin=False, stop_on_error=False
    )
    got_reply = got_idle = False
    deadline = time.monotonic() + TIMEOUT_S
    while not (got_reply and got_idle):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no reply to {code!r} within {TIMEOUT_S} s")
        if not got_reply:
            reply = client.get_shell_msg(timeout=remaining)
            if reply["parent_header"].get("msg_id") == msg_id:
                got_reply = True
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(f"{code!r} failed: {reply['content']}")
            continue
        msg = client.get_iopub_msg(timeout=remaining)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            got_idle = True


def percentile(sorted_values, fraction):
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="number of timed 1+1 executes")
    parser.add_argument("--kernel", default="python3", help="kernelspec name")
    args = parser.parse_args()

    # Else the kernel's debugger prints a frozen-modules warning at each start.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    manager = KernelManager(kernel_name=args.kernel)
    started = time.perf_counter()
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        wait_ready(client)
        start_ms = (time.perf_counter() - started) * 1000

        for _ in range(5):  # warm-up: first executes import and compile more
            execute_and_wait(client, "1+1")
        roundtrips = []
        for _ in range(args.n):
            begin = time.perf_counter()
            execute_and_wait(client, "1+1")
            roundtrips.append((time.perf_counter() - begin) * 1000)

        client.stop_channels()
        begin = time.perf_counter()
        manager.restart_kernel(now=True)
        client = manager.client()
        client.start_channels()
        wait_ready(client)
        restart_ms = (time.perf_counter() - begin) * 1000
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    roundtrips.sort()
    result = {
        "roundtrip_ms_median": round(statistics.median(roundtrips), 3),
        "roundtrip_ms_p90": round(percentile(roundtrips, 0.9), 3),
        "start_ms": round(start_ms, 1),
        "restart_ms": round(restart_ms, 1),
        "n": args.n,
        "kernel": args.kernel,
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
