"""Scenarios of the Python client against a real Zest server, one per run:

    ZEST_URL=... ZEST_TOKEN=... /usr/bin/python3 clients/python/tests/scenarios.py NAME

``test/python_client_test.ts`` starts the server (``test/fixtures/python_client.config.ts``:
``greeter``, ``lab`` with Sleep/Sum/Fail, ``gate``; at most 2 queued serial tasks per service;
the workflow scenarios run on ``test/fixtures/workflow.config.ts``: the same ``greeter`` and
``lab``, a ``reporter`` that reports progress and output, a ``hang`` whose lane gets stuck, and
the schedules ``daily`` and ``yearly``) and runs them. A scenario prints what the test waits for, raises AssertionError when the client
misbehaves, and prints ``ok NAME`` when all went as expected. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zest_client  # noqa: E402
from zest_client import (  # noqa: E402
    AsyncClient,
    BadRequestError,
    Client,
    ConfigError,
    GraphError,
    NotFoundError,
    PayloadTooLargeError,
    QueueFullError,
    RefusedError,
    ServerStoppingError,
    TaskConflictError,
    TaskExecutionError,
    TaskPage,
    TaskTimeoutError,
    TaskValidationError,
    UnauthorizedError,
    UnknownScheduleError,
    UnknownServiceError,
    UnknownTaskError,
    UnknownTaskTypeError,
    ZestConnectionError,
    ZestError,
)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
WRONG_TOKEN = "wrong-token-0123456789abcdef"


def raises(exception: type[BaseException], call, *args, **kwargs) -> BaseException:
    """Run call and return the exception it raised, which must be an `exception`."""
    try:
        value = call(*args, **kwargs)
    except exception as error:
        return error
    raise AssertionError(f"expected {exception.__name__}, got the value {value!r}")


async def araises(exception: type[BaseException], awaitable) -> BaseException:
    try:
        value = await awaitable
    except exception as error:
        return error
    raise AssertionError(f"expected {exception.__name__}, got the value {value!r}")


def say(line: str) -> None:
    print(line, flush=True)


# --- scenarios -----------------------------------------------------------------------------------


def sync_client() -> None:
    """Client: execute, request, result, outcome, status, tasks, services, cancel, failures."""
    with Client() as client:
        assert client.execute("greeter", "Greeting", {"name": "Ada"}) == "Hello Ada from greeter"
        assert client.execute("greeter", {"type": "Greeting", "fields": {"name": "Bo"}}) == "Hello Bo from greeter"

        request = client.request("lab", "Sleep", {"ms": 200}, attributes={"by": "python"})
        assert UUID.match(request.task_id), request.task_id
        assert request.result(timeout=30) == 200
        assert request.outcome == {"status": "ok", "id": request.task_id, "result": 200}
        assert request.done()
        record = client.status(request.task_id)
        assert record["state"] == "succeeded" and record["attributes"] == {"by": "python"}, record

        failed = raises(TaskExecutionError, client.execute, "lab", "Fail", {"message": "no lock"})
        assert (failed.ename, failed.evalue) == ("RangeError", "no lock"), failed
        assert "RangeError: no lock" in failed.traceback and str(failed) == "RangeError: no lock"
        assert failed.outcome["status"] == "error" and UUID.match(failed.task_id)

        timed = raises(TaskExecutionError, client.execute, "lab", "Sleep", {"ms": 10_000}, timeout_ms=50)
        assert timed.ename == "TimeoutError", timed

        slow = client.request("lab", "Sleep", {"ms": 30_000})
        late = raises(TaskTimeoutError, slow.result, timeout=0.3)
        assert isinstance(late, TimeoutError) and late.task_id == slow.task_id
        assert slow.outcome is None and client.outcome(slow.task_id) is None
        assert slow.cancel() is True
        cancelled = raises(TaskExecutionError, slow.result, timeout=30)
        assert cancelled.ename == "CancelledError", cancelled
        assert client.cancel(slow.task_id) is False
        assert client.outcome(slow.task_id, wait=None)["ename"] == "CancelledError"

        listed = client.tasks(service="lab", limit=2)
        assert len(listed) == 2 and all(r["service"] == "lab" for r in listed), listed
        assert {r["id"] for r in client.tasks(state="cancelled")} >= {slow.task_id}
        names = [s["name"] for s in client.services()]
        assert names == ["greeter", "lab", "gate"], names
        sum_type = next(t for s in client.services() if s["name"] == "lab" for t in s["taskTypes"] if t["name"] == "Sum")
        assert sum_type["schema"]["properties"]["unit"]["enum"] == ["V", "Hz"]

        # numpy-like values (anything with tolist) are sent as JSON
        class Scalar:
            def tolist(self) -> float:
                return 2.5

        assert client.execute("lab", "Sum", {"a": Scalar(), "b": 1}) == "3.5 V"
        raises(ValueError, client.request, "lab", "Sum", {"a": float("nan"), "b": 1})
        raises(TypeError, client.request, "", "Sum", {})
        raises(TypeError, client.request, "lab", 42)
        raises(ValueError, client.request, "lab", "Sum", {"a": 1, "b": 1}, timeout_ms=0)


def refusals() -> None:
    """Every refusal is a RefusedError with the status and the server's reason."""
    client = Client()
    invalid = raises(TaskValidationError, client.request, "lab", "Sum", {"a": "1"})
    assert invalid.status == 422 and isinstance(invalid, ValueError)
    assert invalid.fields == ["a", "b"], invalid.fields
    assert "invalid Sum: a: " in str(invalid) and "b: " in str(invalid), str(invalid)
    assert invalid.issues[0]["path"] == "a" and invalid.issues[0]["message"], invalid.issues

    unknown = raises(UnknownServiceError, client.request, "nope", "Sum", {})
    assert unknown.status == 404 and "no service named 'nope'" in unknown.error, unknown
    assert unknown.name == "UnknownServiceError" and isinstance(unknown, LookupError)
    unknown_type = raises(UnknownTaskTypeError, client.execute, "lab", "Nope", {})
    assert "service 'lab' has no task type 'Nope'" in str(unknown_type)
    for call in (client.status, client.outcome, client.cancel):
        missing = raises(UnknownTaskError, call, "no-such-task")
        assert missing.status == 404 and "no-such-task" in missing.error, missing

    bad = raises(BadRequestError, client.tasks, since="not a date")
    assert bad.status == 400 and "createdSince" in bad.error, bad
    # The fixture's server takes bodies up to 64 KiB.
    big = raises(PayloadTooLargeError, client.request, "greeter", "Greeting", {"name": "x" * 100_000})
    assert big.status == 413 and "limit" in big.error, big

    # A full queue: one Sleep runs, two wait (the fixture's limit), the next is refused.
    held = [client.request("lab", "Sleep", {"ms": 30_000}) for _ in range(3)]
    try:
        full = raises(QueueFullError, client.request, "lab", "Sleep", {"ms": 1})
        assert full.status == 429 and full.name == "QueueFullError", full
        assert "service 'lab' has 2 serial tasks waiting (limit 2)" in str(full), str(full)
    finally:
        for request in held:
            request.cancel()

    for error in (invalid, unknown, bad, big):
        assert isinstance(error, RefusedError) and isinstance(error, ZestError)

    raises(ConfigError, Client, url="ftp://example.org")
    raises(ConfigError, Client, token="short")


NOWHERE = "http://127.0.0.1:9"
"""Where no server listens: a call that sent anything would raise ZestConnectionError."""


def refused_before_sending(exception: type[BaseException], says: str, call, *args, **kwargs) -> None:
    """``call`` raises ``exception`` whose message has ``says`` (what names the parameter)."""
    error = raises(exception, call, *args, **kwargs)
    assert says in str(error), f"{says!r} not in {error!r}"


async def async_refused_before_sending(exception: type[BaseException], says: str, awaitable) -> None:
    error = await araises(exception, awaitable)
    assert says in str(error), f"{says!r} not in {error!r}"


def argument_checks() -> None:
    """A wrong argument is a TypeError or ValueError naming the parameter passed, raised before
    anything is sent: first against an address where nothing listens (sending would be a
    ZestConnectionError), then against the server, which must not have got the task."""
    nowhere = Client(NOWHERE)
    sum_task = ("lab", "Sum", {"a": 1, "b": 1})
    refused_before_sending(ValueError, "timeout must be >= 0", nowhere.execute, *sum_task, timeout=-1)
    refused_before_sending(ValueError, "timeout must be >= 0", nowhere.execute, *sum_task, timeout=float("nan"))
    refused_before_sending(TypeError, "timeout must be a number", nowhere.execute, *sum_task, timeout="5")
    refused_before_sending(ValueError, "priority must be from -1000", nowhere.execute, *sum_task, priority=5000)
    refused_before_sending(ValueError, "priority must be from -1000", nowhere.request, *sum_task, priority=-1001)
    refused_before_sending(ValueError, "timeout_ms must be a positive number of milliseconds up to", nowhere.request, *sum_task, timeout_ms=2**31)
    refused_before_sending(ValueError, "expires_in_ms must be", nowhere.request, *sum_task, expires_in_ms=float("inf"))
    wait_error = raises(ValueError, nowhere.outcome, "some-id", wait=-3)
    assert "wait must be >= 0" in str(wait_error) and "timeout" not in str(wait_error), wait_error
    refused_before_sending(ValueError, "timeout must be >= 0", zest_client.TaskRequest(nowhere, "t", "lab", "Sum").wait, -1)
    refused_before_sending(ValueError, "timeout must be >= 0", zest_client.TaskRequest(nowhere, "t", "lab", "Sum").result, -1)
    refused_before_sending(TypeError, "task_id must be a non-empty string", nowhere.status, "")
    refused_before_sending(ValueError, "limit must be from 1 to 1000", nowhere.tasks, limit=0)
    refused_before_sending(ValueError, "page_size must be from 1 to 1000", list, nowhere.iter_tasks(page_size=0))
    refused_before_sending(ValueError, "since must be a date that exists, got '2026-11-31'", nowhere.tasks, since="2026-11-31")
    refused_before_sending(ValueError, "until must be a date that exists", nowhere.tasks, until="2026-02-30T08:00:00Z")
    refused_before_sending(ValueError, "limit must be from 1 to 1000", nowhere.queue, "lab", limit=0)
    refused_before_sending(TypeError, "service must be a non-empty string", nowhere.queue, "")
    refused_before_sending(TypeError, "service must be a non-empty string", nowhere.release, "")
    refused_before_sending(TypeError, "name must be a non-empty string", nowhere.pause_schedule, "")
    refused_before_sending(TypeError, "service must be a non-empty string", nowhere.watch, 3)
    refused_before_sending(ValueError, "timeout must be a positive", Client, NOWHERE, timeout=0)
    refused_before_sending(TypeError, "max_connections must be a whole number", AsyncClient, NOWHERE, max_connections="3")

    async def async_checks() -> None:
        async with AsyncClient(NOWHERE) as anywhere:
            await async_refused_before_sending(ValueError, "timeout must be >= 0", anywhere.execute(*sum_task, timeout=-1))
            await async_refused_before_sending(ValueError, "wait must be >= 0", anywhere.outcome("some-id", wait=-3))
            request = zest_client.AsyncTaskRequest(anywhere, "t", "lab", "Sum")
            await async_refused_before_sending(ValueError, "timeout must be >= 0", request.result(-1))
            await async_refused_before_sending(ValueError, "since must be a date that exists", anywhere.tasks(since="2026-02-30"))
            await async_refused_before_sending(ValueError, "page_size must be from 1", anywhere.iter_tasks(page_size=0).__anext__())
            await async_refused_before_sending(TypeError, "name must be a non-empty string", anywhere.run_schedule(""))

    asyncio.run(async_checks())

    # Against the server: the refused execute left no task behind.
    client = Client()
    before = [r["id"] for r in client.tasks(service="lab", type="Sum")]
    raises(ValueError, client.execute, *sum_task, timeout=-1)
    assert [r["id"] for r in client.tasks(service="lab", type="Sum")] == before, "a task was sent"
    assert client.tasks(since="2026-11-30", limit=1) is not None  # the last day of a month exists


def wrong_token() -> None:
    """A wrong token: 401, said plainly, on every way in (HTTP sync, async, WebSocket)."""
    client = Client(token=WRONG_TOKEN)
    refused = raises(UnauthorizedError, client.services)
    assert refused.status == 401 and "the token argument" in str(refused), str(refused)
    raises(UnauthorizedError, client.request, "greeter", "Greeting", {"name": "Ada"})
    raises(UnauthorizedError, client.watch().open)

    async def run() -> None:
        async with AsyncClient(token=WRONG_TOKEN) as ac:
            await araises(UnauthorizedError, ac.execute("greeter", "Greeting", {"name": "Ada"}))
            await araises(UnauthorizedError, ac.watch().open())

    asyncio.run(run())


def token_file() -> None:
    """Without ZEST_TOKEN, the token comes from .zest/token in the working directory or a parent."""
    assert "ZEST_TOKEN" not in os.environ
    assert Client().execute("greeter", "Greeting", {"name": "Cy"}) == "Hello Cy from greeter"
    explicit = Client(token=WRONG_TOKEN)  # an argument wins over the file
    raises(UnauthorizedError, explicit.services)


def no_token() -> None:
    """Nowhere to find a token: a ConfigError that says where the client looked."""
    missing = raises(ConfigError, Client)
    assert "ZEST_TOKEN" in str(missing) and ".zest/token" in str(missing), str(missing)


def async_client() -> None:
    """AsyncClient in asyncio.run's loop: request/await, many at once, failures, refusals."""

    async def run() -> None:
        async with AsyncClient() as ac:
            request = await ac.request("greeter", "Greeting", {"name": "Ada"})
            assert UUID.match(request.task_id)
            assert await request == "Hello Ada from greeter"
            assert request.outcome["status"] == "ok"
            results = await asyncio.gather(*(ac.execute("lab", "Sum", {"a": i, "b": 1}) for i in range(50)))
            assert results == [f"{i + 1} V" for i in range(50)], results
            failed = await araises(TaskExecutionError, ac.execute("lab", "Fail", {}))
            assert (failed.ename, failed.evalue) == ("RangeError", "it broke")
            await araises(TaskValidationError, ac.request("lab", "Sum", {"a": 1}))
            await araises(UnknownServiceError, ac.request("nope", "Sum", {}))
            await araises(UnknownTaskError, ac.status("no-such-task"))

            slow = await ac.request("lab", "Sleep", {"ms": 30_000})
            await araises(TaskTimeoutError, slow.result(timeout=0.3))
            assert await slow.done() is False
            assert await slow.cancel() is True
            cancelled = await araises(TaskExecutionError, slow)
            assert cancelled.ename == "CancelledError"
            assert (await ac.status(slow.task_id))["state"] == "cancelled"
            assert [s["name"] for s in await ac.services()] == ["greeter", "lab", "gate"]
            assert len(await ac.tasks(service="greeter", limit=1)) == 1

    asyncio.run(run())


def inside_running_loop() -> None:
    """As in a notebook cell: a loop already runs; both clients and watch work inside it."""

    async def cell() -> None:
        async with AsyncClient() as ac:
            request = await ac.request("lab", "Sleep", {"ms": 30_000})

            async def meanwhile() -> None:
                # Runs only if waiting for the Sleep leaves the loop free; then ends the Sleep.
                assert await ac.execute("greeter", "Greeting", {"name": "Al"}) == "Hello Al from greeter"
                assert await request.cancel() is True

            waited, _ = await asyncio.gather(
                araises(TaskExecutionError, request.result(timeout=60)), meanwhile()
            )
            assert waited.ename == "CancelledError", waited

        client = Client()  # the blocking client, called from inside the running loop
        assert client.execute("greeter", "Greeting", {"name": "Jo"}) == "Hello Jo from greeter"
        with client.watch(service="lab") as events:
            request = client.request("lab", "Sum", {"a": 1, "b": 2})
            seen = next_task_event(events, request.task_id)
            assert seen["record"]["service"] == "lab"

    asyncio.run(cell())


def next_task_event(events, task_id: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if event.get("kind") == "task" and event["record"]["id"] == task_id:
            return event
    raise AssertionError(f"no event for task {task_id}")


def watch() -> None:
    """Live events, sync and async: task changes, filtered by service."""
    client = Client()
    with client.watch(service="lab") as events:
        request = client.request("lab", "Sleep", {"ms": 50})
        states = []
        while "succeeded" not in states:
            event = next_task_event(events, request.task_id)
            states.append(event["record"]["state"])
        assert states[-1] == "succeeded", states
        client.execute("greeter", "Greeting", {"name": "Ada"})  # another service: filtered out
        marker = client.request("lab", "Sum", {"a": 0, "b": 0})
        event = events.get(timeout=30)
        while event.get("kind") != "task":
            event = events.get(timeout=30)
        assert event["record"]["service"] == "lab", event
        next_task_event(events, marker.task_id)

    async def run() -> None:
        async with AsyncClient() as ac, ac.watch() as events:
            request = await ac.request("greeter", "Greeting", {"name": "Ada"})
            async for event in events:
                if event.get("kind") == "task" and event["record"]["id"] == request.task_id:
                    if event["record"]["state"] == "succeeded":
                        break

    asyncio.run(asyncio.wait_for(run(), 30))


def display() -> None:
    """display_outcome hands each MIME bundle to IPython.display, displays then the result's."""
    import IPython.display

    shown = []
    IPython.display.display = lambda data, metadata=None, raw=False: shown.append((data, metadata, raw))
    outcome = {
        "status": "ok",
        "id": "t",
        "result": None,
        "execution": {
            "code": "plot()",
            "executionCount": 1,
            "stdout": "",
            "stderr": "",
            "displays": [{"data": {"image/png": "iVBO", "text/plain": "<Figure>"}, "metadata": {"image/png": {"width": 9}}}],
            "executeResult": {"data": {"text/html": "<b>hi</b>", "text/plain": "hi"}, "metadata": {}},
        },
    }
    zest_client.display_outcome(outcome)
    assert shown == [
        ({"image/png": "iVBO", "text/plain": "<Figure>"}, {"image/png": {"width": 9}}, True),
        ({"text/html": "<b>hi</b>", "text/plain": "hi"}, {}, True),
    ], shown
    zest_client.display_outcome({"status": "ok", "id": "t", "result": 1})  # no execution: nothing
    assert len(shown) == 2


def kernel_display() -> None:
    """A kernel task's displays, shown with one call (server: test/fixtures/kernel.config.ts)."""
    import IPython.display

    shown = []
    IPython.display.display = lambda data, metadata=None, raw=False: shown.append(data)
    client = Client()
    request = client.request("py", "ShowImage", {"times": 2})
    request.display(timeout=60)
    images = [data for data in shown if "image/png" in data]
    assert len(images) == 2 and images[0]["image/png"].startswith("iVBOR"), shown
    execution = request.outcome["execution"]
    assert execution["stdout"] == "shown 2\n" and request.outcome["result"] == 2, execution
    invalid = raises(TaskValidationError, client.request, "py", "ShowImage", {"times": 9})
    assert invalid.fields == ["times"], invalid.issues


def generated_classes() -> None:
    """The classes `zest codegen python` wrote for the default config (zest.config.ts): import
    them, build valid and invalid payloads, and send one (ZEST_TASKS_DIR holds lab_tasks.py)."""
    sys.path.insert(0, os.environ["ZEST_TASKS_DIR"])
    import lab_tasks
    from lab_tasks import (
        AdvanceTime,
        CalibrationStatus,
        Greeting,
        MaintainNode,
        PlotCalibration,
        TaskFieldsError,
    )

    assert [cls.TASK_TYPE for cls in lab_tasks.TASK_CLASSES] == [
        "Greeting", "MaintainNode", "CalibrationStatus", "AdvanceTime", "PlotCalibration"
    ]
    assert MaintainNode.SERVICES == ("calibration",) and Greeting.SERVICES == ("greeter",)
    assert MaintainNode.FIELD_NAMES == {"node_id": "nodeId"} and MaintainNode.PARALLEL is False
    assert MaintainNode(node_id="q0_rabi").to_fields() == {"nodeId": "q0_rabi"}
    assert MaintainNode.from_fields({"nodeId": "q1_ramsey"}).node_id == "q1_ramsey"
    assert Greeting(name="Ada").to_fields() == {"greeting": "Hello", "name": "Ada"}
    assert AdvanceTime(hours=1.5).to_fields() == {"hours": 1.5}
    assert CalibrationStatus().to_fields() == {} and PlotCalibration().to_fields() == {}

    bad = raises(TaskFieldsError, MaintainNode, node_id="rabi")
    assert str(bad) == "invalid MaintainNode: node_id: must match the pattern ^q\\d+_[a-z_]+$, got 'rabi'", str(bad)
    assert isinstance(bad, ValueError) and bad.issues[0][0] == "node_id"
    assert "expected string, got integer 7" in str(raises(TaskFieldsError, MaintainNode, node_id=7))
    assert "required" in str(raises(TaskFieldsError, MaintainNode, node_id=None))
    assert "must be > 0, got 0" in str(raises(TaskFieldsError, AdvanceTime, hours=0))
    assert "must be <= 8760" in str(raises(TaskFieldsError, AdvanceTime, hours=9000))
    assert "expected number, got boolean" in str(raises(TaskFieldsError, AdvanceTime, hours=True))
    assert "expected string" in str(raises(TaskFieldsError, Greeting, name="Ada", greeting=1))
    assert "node_id= for nodeId" in str(raises(TypeError, MaintainNode, nodeId="q0_rabi"))
    raises(TypeError, MaintainNode)  # a required field left out
    changed = MaintainNode(node_id="q0_rabi")
    changed.node_id = "nope"  # checked again when sent
    raises(TaskFieldsError, changed.to_fields)
    assert "unknown field" in str(raises(TaskFieldsError, MaintainNode.from_fields, {"nodeId": "q0_rabi", "x": 1}))

    client = Client()
    assert client.execute("greeter", Greeting(name="Ada", greeting="Hi")) == "Hi Ada from greeter"
    request = client.request("greeter", Greeting(name="Bo"))
    assert request.type == "Greeting" and request.result(timeout=30) == "Hello Bo from greeter"
    raises(TypeError, client.request, "greeter", Greeting(name="Bo"), {"name": "x"})
    # This server has no calibration service: the class still names its type and fields.
    missing = raises(UnknownServiceError, client.request, "calibration", MaintainNode(node_id="q0_rabi"))
    assert "no service named 'calibration'" in str(missing)


def served_classes() -> None:
    """The classes `deno task zest codegen python` wrote from this server's GET /services."""
    sys.path.insert(0, os.environ["ZEST_TASKS_DIR"])
    from served_tasks import Greeting, HoldStop, Sleep, Sum, TaskFieldsError

    assert Sum.SERVICES == ("lab",) and HoldStop.SERVICES == ("gate",)
    assert Sum(a=1, b=2).unit == "V"
    raises(TaskFieldsError, Sum, a=1, b=2, unit="A")
    raises(TaskFieldsError, Sleep, ms=-1)
    raises(TaskFieldsError, Sleep, ms=1.5)
    raises(TaskFieldsError, HoldStop, file="/etc/passwd")
    client = Client()
    assert client.execute("lab", Sum(a=1, b=2, unit="Hz")) == "3 Hz"
    assert client.execute("lab", Sleep(ms=5)) == 5
    assert client.execute("greeter", Greeting(name="Ada")) == "Hello Ada from greeter"


def until(check, what: str, seconds: float = 30):
    """Poll ``check`` until it returns something true; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def dependencies() -> None:
    """after= (ids or requests) and on_dependency_failure=; submit_graph; graph (DOT)."""
    client = Client()
    failing = client.request("lab", "Fail", {"message": "no lock"})
    cancelled = client.request("lab", "Sum", {"a": 1, "b": 2}, after=[failing])
    runs = client.request("lab", "Sum", {"a": 1, "b": 3}, after=[failing.task_id], on_dependency_failure="run")
    stopped = raises(TaskExecutionError, cancelled.result, timeout=30)
    assert stopped.ename == "DependencyFailedError" and failing.task_id in stopped.evalue, stopped
    assert runs.result(timeout=30) == "4 V"
    record = client.status(cancelled.task_id)
    assert record["state"] == "cancelled" and record["after"] == [failing.task_id], record
    assert client.status(runs.task_id)["onDependencyFailure"] == "run"

    dot = client.graph(cancelled.task_id)
    assert dot.startswith("digraph") and f'"{failing.task_id}" -> "{cancelled.task_id}";' in dot, dot

    ids = client.submit_graph({
        "scan": {"service": "lab", "task": "Sum", "fields": {"a": 1, "b": 1}},
        "fit": {"service": "lab", "task": {"type": "Sum", "fields": {"a": 2, "b": 2}}, "after": ["scan"],
                "priority": 1, "attributes": {"by": "graph"}},
    })
    assert set(ids) == {"scan", "fit"} and all(UUID.match(i) for i in ids.values()), ids
    assert client.outcome(ids["fit"], wait=30)["result"] == "4 V"
    fit = client.status(ids["fit"])
    assert fit["after"] == [ids["scan"]] and fit["attributes"] == {"by": "graph"}, fit
    assert f'"{ids["scan"]}" -> "{ids["fit"]}";' in client.graph(ids["scan"])

    cycle = raises(GraphError, client.submit_graph, {
        "a": {"service": "lab", "task": "Sum", "fields": {"a": 1, "b": 1}, "after": ["b"]},
        "b": {"service": "lab", "task": "Sum", "fields": {"a": 1, "b": 1}, "after": ["a"]},
    })
    assert cycle.status == 422 and "cycle" in cycle.error and isinstance(cycle, ValueError), cycle
    # An `after` that names neither a node of the graph nor an existing task.
    nowhere = raises(GraphError, client.submit_graph, {
        "a": {"service": "lab", "task": "Sum", "fields": {"a": 1, "b": 1}, "after": ["nothing"]},
    })
    assert nowhere.status == 422 and "nothing" in nowhere.error, nowhere
    invalid = raises(TaskValidationError, client.submit_graph, {"a": {"service": "lab", "task": "Sum", "fields": {"a": 1}}})
    assert "b" in str(invalid), invalid
    raises(TypeError, client.submit_graph, {})
    raises(TypeError, client.submit_graph, {"a": {"service": "lab", "task": "Sum", "colour": "red"}})
    raises(TypeError, client.submit_graph, {"a": {"service": "lab", "task": "Sum", "key": "k"}})
    raises(TypeError, client.submit_graph, {"a": "Sum"})

    unknown = raises(UnknownTaskError, client.request, "lab", "Sum", {"a": 1, "b": 1}, after=["no-such-task"])
    assert unknown.status == 404 and "no-such-task" in unknown.error, unknown
    raises(UnknownTaskError, client.graph, "no-such-task")
    raises(TypeError, client.request, "lab", "Sum", {"a": 1, "b": 1}, after=failing.task_id)  # a str, not a list
    raises(ValueError, client.request, "lab", "Sum", {"a": 1, "b": 1}, after=[failing], on_dependency_failure="maybe")


def request_options() -> None:
    """priority=, key= (409 on other fields), expires_in_ms= (a queued task expires)."""
    client = Client()
    key = f"py-{uuid.uuid4()}"
    keyed = client.request("lab", "Sum", {"a": 2, "b": 2}, key=key, priority=5, expires_in_ms=60_000)
    again = client.request("lab", "Sum", {"a": 2, "b": 2}, key=key)
    assert again.task_id == keyed.task_id, (again, keyed)
    conflict = raises(TaskConflictError, client.request, "lab", "Sum", {"a": 2, "b": 3}, key=key)
    assert conflict.status == 409 and conflict.name == "TaskConflictError" and "other fields" in conflict.error
    record = client.status(keyed.task_id)
    assert record["priority"] == 5 and record["key"] == key and record["deadline"] > record["createdAt"], record
    assert [r["id"] for r in client.tasks(key=key)] == [keyed.task_id]

    blocker = client.request("lab", "Sleep", {"ms": 30_000})
    expiring = client.request("lab", "Sleep", {"ms": 1}, expires_in_ms=50)
    expired = raises(TaskExecutionError, expiring.result, timeout=30)
    assert expired.ename == "ExpiredError", expired
    assert client.status(expiring.task_id)["state"] == "expired"
    assert blocker.cancel() is True

    priority = raises(ValueError, client.request, "lab", "Sum", {"a": 1, "b": 1}, priority=5000)
    assert not isinstance(priority, RefusedError), "refused before it is sent"
    assert "priority must be from -1000 to 1000, got 5000" in str(priority), priority
    raises(TypeError, client.request, "lab", "Sum", {"a": 1, "b": 1}, priority=1.5)
    raises(TypeError, client.request, "lab", "Sum", {"a": 1, "b": 1}, priority=True)
    raises(TypeError, client.request, "lab", "Sum", {"a": 1, "b": 1}, key="")
    raises(ValueError, client.request, "lab", "Sum", {"a": 1, "b": 1}, expires_in_ms=0)
    raises(ValueError, client.execute, "lab", "Sum", {"a": 1, "b": 1}, expires_in_ms=-5)


def history() -> None:
    """tasks(): a page with next, the filters; iter_tasks(): every page; delete and rerun."""
    client = Client()
    started = datetime.now(timezone.utc)  # the server's clock is this machine's
    made = [client.request("lab", "Sum", {"a": i, "b": 0}) for i in range(5)]
    for request in made:
        request.result(timeout=30)
    failed = client.request("lab", "Fail", {"message": "history"})
    raises(TaskExecutionError, failed.result, timeout=30)

    page = client.tasks(service="lab", limit=2)
    assert isinstance(page, TaskPage) and isinstance(page, list) and len(page) == 2, page
    assert isinstance(page.next, str), page.next
    following = client.tasks(service="lab", limit=2, cursor=page.next)
    assert not {r["id"] for r in page} & {r["id"] for r in following}
    newest_first = [r["id"] for r in client.iter_tasks(service="lab", since=started, page_size=2)]
    assert newest_first[:6] == [failed.task_id, *(r.task_id for r in reversed(made))], newest_first
    assert len(newest_first) == len(set(newest_first))

    assert [r["id"] for r in client.tasks(type="Fail", since=started)] == [failed.task_id]
    assert {r["id"] for r in client.tasks(state=["failed", "expired"], since=timedelta(minutes=5))} >= {failed.task_id}
    assert client.tasks(state="succeeded", since=started.timestamp(), limit=1)[0]["id"] == made[-1].task_id
    assert list(client.tasks(until=datetime(2000, 1, 1, tzinfo=timezone.utc))) == []
    assert client.tasks(service="lab", since=started.isoformat(), limit=1000, until=timedelta(0)).next is None
    unknown_state = raises(ValueError, client.tasks, state="done")
    assert "'done' is not a task state" in str(unknown_state), unknown_state
    raises(TypeError, client.tasks, since=object())
    raises(TypeError, client.tasks, limit="10")
    too_many = raises(ValueError, client.tasks, limit=5000)
    assert "limit must be from 1 to 1000" in str(too_many), too_many
    raises(BadRequestError, client.tasks, since="not a date")

    rerun = client.rerun(failed.task_id)
    assert rerun.type == "Fail" and rerun.service == "lab" and rerun.task_id != failed.task_id, rerun
    assert raises(TaskExecutionError, rerun.result, timeout=30).evalue == "history"
    assert client.status(rerun.task_id)["rerunOf"] == failed.task_id
    raises(UnknownTaskError, client.rerun, "no-such-task")

    assert client.delete(failed.task_id) is None
    raises(UnknownTaskError, client.status, failed.task_id)
    gone = raises(UnknownTaskError, client.delete, failed.task_id)
    assert gone.status == 404, gone
    live = client.request("lab", "Sleep", {"ms": 30_000})
    busy = raises(TaskConflictError, client.delete, live.task_id)
    assert busy.status == 409 and live.task_id in busy.error, busy
    assert live.cancel() is True
    client.outcome(live.task_id, wait=30)
    client.delete(live.task_id)

    store = client.store()
    assert store["kind"] in ("memory", "sqlite") and store["records"] >= 5, store


def stuck_lane() -> None:
    """A handler that ignores its end holds its lane (services() shows it stuck); release()."""
    client = Client()
    hung = client.request("hang", "Hang", {}, timeout_ms=50)
    assert raises(TaskExecutionError, hung.result, timeout=30).ename == "TimeoutError"
    service = until(
        lambda: next((s for s in client.services() if s["name"] == "hang" and s["state"] == "stuck"), None),
        "the hang lane to show stuck",
    )
    assert service["stuck"]["taskId"] == hung.task_id, service
    # The queue view: the task holding the lane, then what waits, in running order.
    waiting = client.request("hang", "Hang", {}, priority=3)
    held, queued = client.queue("hang")
    assert held["id"] == hung.task_id and queued["id"] == waiting.task_id, (held, queued)
    assert queued["priority"] == 3 and queued["state"] == "queued", queued
    assert client.cancel(waiting.task_id) is True
    raises(UnknownServiceError, client.queue, "nope")
    assert client.release("hang") is True
    assert client.release("hang") is False
    assert next(s for s in client.services() if s["name"] == "hang")["state"] == "running"
    assert client.execute("hang", "Unhang", {}, timeout=30) == 1  # the handler that hung returns
    missing = raises(UnknownServiceError, client.release, "nope")
    assert missing.status == 404, missing


def schedules() -> None:
    """schedules(), pause/resume/run_schedule, and the schedule events of watch."""
    client = Client()
    listed = {s["name"]: s for s in client.schedules()}
    assert set(listed) == {"daily", "yearly"}, listed
    assert listed["daily"]["every"] == "1d" and listed["daily"]["service"] == "lab", listed
    assert listed["yearly"]["cron"] == "0 0 1 1 *" and listed["yearly"]["timezone"] == "UTC"
    paused = client.pause_schedule("yearly")
    assert paused["name"] == "yearly" and paused["state"] == "paused" and "nextRunAt" not in paused, paused
    resumed = client.resume_schedule("yearly")
    assert resumed["state"] == "scheduled" and resumed["nextRunAt"] > time.time() * 1000, resumed
    with client.watch(service="lab") as events:
        ran = client.run_schedule("daily")
        assert ran["runs"] >= listed["daily"]["runs"] + 1, ran
        seen = events.get(timeout=30)
        while not (seen.get("kind") == "task" and seen["record"].get("schedule") == "daily"):
            seen = events.get(timeout=30)
    until(lambda: any(r.get("schedule") == "daily" for r in client.tasks(service="lab")), "the scheduled task")
    missing = raises(UnknownScheduleError, client.run_schedule, "nope")
    assert missing.status == 404 and isinstance(missing, NotFoundError) and "nope" in missing.error, missing

    async def run() -> None:
        async with AsyncClient() as ac:
            assert {s["name"] for s in await ac.schedules()} == {"daily", "yearly"}
            assert (await ac.pause_schedule("daily"))["state"] == "paused"
            assert (await ac.resume_schedule("daily"))["state"] == "scheduled"
            await araises(UnknownScheduleError, ac.pause_schedule("nope"))

    asyncio.run(run())


def watch_progress() -> None:
    """watch() yields progress and output while a task runs, filtered by service."""
    client = Client()
    with client.watch(service="reporter") as events:
        other = client.request("lab", "Sum", {"a": 1, "b": 1})
        request = client.request("reporter", "Report", {"steps": 3})
        seen = []
        while True:
            event = events.get(timeout=30)
            seen.append(event)
            if event.get("kind") == "task" and event["record"]["id"] == request.task_id \
                    and event["record"]["state"] == "succeeded":
                break
    kinds = [event["kind"] for event in seen]
    progress = [event["progress"] for event in seen if event["kind"] == "progress"]
    assert [(round(p["fraction"], 2), p["message"]) for p in progress] == [
        (0.33, "step 1"), (0.67, "step 2"), (1.0, "step 3")], progress
    outputs = [event["output"] for event in seen if event["kind"] == "output"]
    assert outputs == [{"kind": "stream", "name": "stdout", "text": f"line {i}\n"} for i in (1, 2, 3)], outputs
    assert all(event.get("id", request.task_id) == request.task_id for event in seen), seen
    assert other.task_id not in str(seen), "another service's task was not filtered out"
    assert kinds.index("progress") < kinds.index("output") < len(kinds) - 1, kinds

    async def run() -> None:
        async with AsyncClient() as ac, ac.watch() as events:
            request = await ac.request("reporter", "Report", {"steps": 2})
            fractions = []
            async for event in events:
                if event.get("kind") == "progress" and event["id"] == request.task_id:
                    fractions.append(event["progress"]["fraction"])
                if event.get("kind") == "task" and event["record"]["id"] == request.task_id \
                        and event["record"]["state"] == "succeeded":
                    break
            assert fractions == [0.5, 1], fractions

    asyncio.run(asyncio.wait_for(run(), 30))


def async_workflow() -> None:
    """AsyncClient: after= with requests, submit_graph, iter_tasks, rerun, delete, graph, store."""

    async def run() -> None:
        async with AsyncClient() as ac:
            first = await ac.request("lab", "Sum", {"a": 1, "b": 1}, priority=2, key=f"a-{uuid.uuid4()}")
            second = await ac.request("lab", "Sum", {"a": 2, "b": 1}, after=[first], expires_in_ms=60_000)
            assert await second == "3 V"
            assert (await ac.status(second.task_id))["after"] == [first.task_id]
            assert first.task_id in await ac.graph(second.task_id)
            ids = await ac.submit_graph({
                "a": {"service": "lab", "task": "Sum", "fields": {"a": 1, "b": 1}},
                "b": {"service": "lab", "task": "Sum", "fields": {"a": 1, "b": 1}, "after": ["a"]},
            })
            assert (await ac.outcome(ids["b"], wait=30))["status"] == "ok"
            await araises(GraphError, ac.submit_graph({
                "a": {"service": "lab", "task": "Sum", "fields": {"a": 1, "b": 1}, "after": ["a"]},
            }))
            page = await ac.tasks(service="lab", limit=1)
            assert isinstance(page, TaskPage) and len(page) == 1 and page.next, page
            listed = [record["id"] async for record in ac.iter_tasks(service="lab", page_size=1)]
            assert listed[:2] == [ids["b"], ids["a"]] and len(listed) == len(set(listed)), listed
            again = await ac.rerun(first.task_id)
            assert await again == "2 V" and (await ac.status(again.task_id))["rerunOf"] == first.task_id
            await ac.delete(again.task_id)
            await araises(UnknownTaskError, ac.delete(again.task_id))
            slow = await ac.request("lab", "Sleep", {"ms": 30_000})
            await araises(TaskConflictError, ac.delete(slow.task_id))
            await slow.cancel()
            assert (await ac.store())["records"] >= 1
            assert await ac.release("lab") is False

    asyncio.run(asyncio.wait_for(run(), 60))


def _gate_after_send(label: str) -> None:
    """Print `label` once the outcome request is on the wire, so the test stops the server
    while the client waits for the answer (not before it asked)."""
    import http.client

    getresponse = http.client.HTTPConnection.getresponse

    def announced(self):
        say(label)
        return getresponse(self)

    http.client.HTTPConnection.getresponse = announced


def server_gone_sync() -> None:
    """The server is killed while result() waits: a ZestConnectionError naming the task."""
    client = Client()
    request = client.request("lab", "Sleep", {"ms": 60_000})
    _gate_after_send(f"waiting {request.task_id}")
    gone = raises(ZestConnectionError, request.result)
    assert isinstance(gone, ConnectionError) and gone.task_id == request.task_id, gone
    assert request.task_id in str(gone) and "may still run" in str(gone), str(gone)
    again = raises(ZestConnectionError, client.services)
    assert "cannot reach the Zest server" in str(again), str(again)


def server_gone_async() -> None:
    """The same with AsyncClient: the pending await ends with ZestConnectionError."""

    async def run() -> None:
        async with AsyncClient() as ac:
            request = await ac.request("lab", "Sleep", {"ms": 60_000})
            drain = asyncio.StreamWriter.drain

            async def announced(self):
                await drain(self)
                say(f"waiting {request.task_id}")

            asyncio.StreamWriter.drain = announced
            gone = await araises(ZestConnectionError, request.result())
            assert gone.task_id == request.task_id and request.task_id in str(gone), str(gone)
            asyncio.StreamWriter.drain = drain
            await araises(ZestConnectionError, ac.services())

    asyncio.run(asyncio.wait_for(run(), 60))


def watch_server_gone_sync() -> None:
    """The server is killed while watch() waits for the next event: ZestConnectionError, no hang."""
    with Client().watch() as events:
        say("watching")

        def until_it_ends() -> None:
            while True:  # events that came before the kill, if any, are read past
                events.get(30)

        gone = raises(ZestConnectionError, until_it_ends)
        assert "closed the event stream" in str(gone), str(gone)


def watch_server_gone_async() -> None:
    """The same with AsyncClient: the pending ``async for`` ends with ZestConnectionError."""

    async def run() -> None:
        async with AsyncClient() as ac, ac.watch() as events:
            say("watching")

            async def until_it_ends() -> None:
                async for _ in events:  # events that came before the kill, if any, are read past
                    pass

            gone = await araises(ZestConnectionError, until_it_ends())
            assert "closed the event stream" in str(gone), str(gone)

    asyncio.run(asyncio.wait_for(run(), 30))


def server_stops_mid_wait() -> None:
    """The server stops cleanly while result() waits: the task ends ServiceStoppedError (its store
    is in memory: nothing is kept for a next start)."""
    client = Client()
    request = client.request("lab", "Sleep", {"ms": 60_000})
    _gate_after_send(f"waiting {request.task_id}")
    stopped = raises(TaskExecutionError, request.result)
    assert stopped.ename == "ServiceStoppedError", stopped


def arm_stop_gate() -> None:
    """Hold the server's next stop until the file named by ZEST_GATE_FILE exists."""
    assert Client().execute("gate", "HoldStop", {"file": os.environ["ZEST_GATE_FILE"]})


def refused_while_stopping() -> None:
    """While the server stops (the test has sent SIGINT, the gate holds it), a new task is
    refused with 503: ServerStoppingError."""
    client = Client()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            # Until the runtime has closed its doors, tasks are still taken.
            client.request("greeter", "Greeting", {"name": "Ada"}).wait(timeout=30)
        except ServerStoppingError as stopping:
            assert stopping.status == 503 and stopping.name == "RuntimeStoppingError", stopping
            assert "stopping" in str(stopping), str(stopping)
            return
    raise AssertionError("the server never refused a task while stopping")


SCENARIOS = {
    name: function
    for name, function in list(globals().items())
    if callable(function) and not name.startswith("_") and function.__module__ == __name__
    and function.__doc__ and name not in ("raises", "araises", "say", "next_task_event", "until")
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        sys.exit(f"usage: scenarios.py {{{'|'.join(SCENARIOS)}}}")
    SCENARIOS[sys.argv[1]]()
    say(f"ok {sys.argv[1]}")
