"""A Python client for a Zest server: send tasks, wait for results, follow events.

One module, standard library only (Python >= 3.10); Debian's ``python3-websockets``
is needed only for live events (``watch``). Use it from a checkout::

    import sys; sys.path.insert(0, "clients/python")   # or copy zest_client.py next to your code
    from zest_client import Client, AsyncClient, TaskExecutionError

    client = Client()                       # url/token, else ZEST_URL / ZEST_TOKEN, else .zest/token
    client.execute("calibration", "MaintainNode", {"nodeId": "q0_rabi"})   # the result, or raises
    req = client.request("greeter", "Greeting", {"name": "Ada"})
    req.task_id                             # known at once
    req.result(timeout=30)                  # "Hello Ada from greeter"

    async with AsyncClient() as ac:         # inside Jupyter's running event loop too
        req = await ac.request("greeter", "Greeting", {"name": "Ada"})
        print(await req)

A task is a type name and its fields (the schema's own names, as in the README), or an
object of a class written by ``deno task zest codegen python`` (``MaintainNode(node_id=...)``),
which carries its type name and turns its snake_case attributes into the schema's names.
Workflows::

    first = client.request("lab", "Scan", {}, priority=5, key="scan-q0", expires_in_ms=60_000)
    client.request("lab", "Fit", {}, after=[first])          # runs once the Scan has ended
    ids = client.submit_graph({"scan": {"service": "lab", "task": "Scan"},
                               "fit": {"service": "lab", "task": "Fit", "after": ["scan"]}})
    client.graph(ids["fit"])                                 # Graphviz DOT
    for record in client.iter_tasks(state=["failed", "expired"], since=timedelta(hours=2)): ...
    client.rerun(record["id"]); client.delete(record["id"])
    client.schedules(); client.pause_schedule("nightly"); client.run_schedule("nightly")

Outcomes are the server's JSON, as dicts: ``{"status": "ok", "id", "result"}`` or
``{"status": "error", "id", "ename", "evalue", "traceback"}``, with ``execution`` for
kernel tasks. A failed task raises ``TaskExecutionError``; a refused request raises a
``RefusedError`` subclass naming the HTTP status and the server's reason (``TaskValidationError``
422, ``GraphError`` 422, ``UnknownTaskError`` 404, ``TaskConflictError`` 409, …); an unreachable
server raises ``ZestConnectionError`` (a ``ConnectionError``).

Bounds: a response body over 256 MiB, or a live event over 64 MiB, is refused; ``watch``
buffers at most 10,000 unread events (then the server waits, and drops a reader that lags far
behind); a long wait is asked of the server in chunks of at most 60 s (it caps one at 5 min).
"""

from __future__ import annotations

import asyncio
import datetime
import http.client
import json
import math
import os
import queue
import re
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "AsyncClient",
    "AsyncEventStream",
    "AsyncTaskRequest",
    "BadRequestError",
    "Client",
    "ConfigError",
    "EventStream",
    "GraphError",
    "NotFoundError",
    "PayloadTooLargeError",
    "QueueFullError",
    "RefusedError",
    "ServerStoppingError",
    "TASK_STATES",
    "TaskConflictError",
    "TaskExecutionError",
    "TaskPage",
    "TaskRequest",
    "TaskTimeoutError",
    "TaskValidationError",
    "UnauthorizedError",
    "UnknownScheduleError",
    "UnknownServiceError",
    "UnknownTaskError",
    "UnknownTaskTypeError",
    "ZestConnectionError",
    "ZestError",
    "display_outcome",
]

__version__ = "0.1.0"

DEFAULT_URL = "http://127.0.0.1:8787"
"""Where the client looks when neither ``url`` nor ``ZEST_URL`` says otherwise."""

TOKEN_FILE = Path(".zest") / "token"
"""The token file ``deno task start`` writes, looked for in the working directory and its parents."""

MAX_WAIT_CHUNK_S = 60.0
"""Longest single ``GET /tasks/:id/outcome?wait=``; longer waits are asked again."""

MAX_DURATION_MS = 2**31 - 1
"""The longest ``timeout_ms`` or ``expires_in_ms``: what the server's timers can hold (~24.8 days)."""

MAX_RESPONSE_BYTES = 256 * 1024 * 1024
"""Largest response body read."""

MAX_EVENT_BYTES = 64 * 1024 * 1024
"""Largest WebSocket message read by ``watch``."""

MAX_BUFFERED_EVENTS = 10_000
"""Unread events ``Client.watch`` keeps before it stops reading from the server."""

MAX_WATCHED_TASKS = 10_000
"""Tasks whose service ``watch(service=...)`` remembers, to filter their progress and output."""

_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{16,512}")
_PROTOCOL = "zest.v1"
_USER_AGENT = f"zest-client-python/{__version__}"


# --- errors --------------------------------------------------------------------------------------


class ZestError(Exception):
    """Base of every error this module raises."""


class ConfigError(ZestError, ValueError):
    """No usable URL or token: the message says where the client looked."""


class ZestConnectionError(ZestError, ConnectionError):
    """The server could not be reached, or went away while the client waited.

    ``url`` is the server's; ``task_id`` the task being waited for, if any (it may still
    run: ask ``outcome(task_id)`` once the server is back).
    """

    def __init__(self, message: str, *, url: str, task_id: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.task_id = task_id


class RefusedError(ZestError):
    """The server refused a request: ``status`` (HTTP), ``error`` (its message), ``name``
    (its error name, e.g. ``UnknownServiceError``, when it gave one) and ``body`` (the JSON)."""

    def __init__(self, status: int, error: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status}: {error}")
        self.status = status
        self.error = error
        self.body = body
        self.name = body.get("name") if isinstance(body, dict) else None


class BadRequestError(RefusedError):
    """400: a malformed request (the message names the problem)."""


class UnauthorizedError(RefusedError, PermissionError):
    """401: the server refused the token."""


class NotFoundError(RefusedError, LookupError):
    """404: no such route, service, task type or task."""


class UnknownServiceError(NotFoundError):
    """404: no service of that name."""


class UnknownTaskTypeError(NotFoundError):
    """404: the service has no task type of that name."""


class UnknownTaskError(NotFoundError):
    """404: no task with that id (never existed, or past its retention)."""


class PayloadTooLargeError(RefusedError):
    """413: the request body is over the server's limit."""


class TaskValidationError(RefusedError, ValueError):
    """422: fields that fail the task type's schema.

    ``issues`` is the server's list of ``{"path", "message"}``; ``fields`` the paths.
    """

    def __init__(self, status: int, error: str, body: Any = None) -> None:
        super().__init__(status, error, body)
        raw = body.get("issues") if isinstance(body, dict) else None
        self.issues: list[dict[str, str]] = raw if isinstance(raw, list) else []
        self.fields = [str(issue.get("path", "")) for issue in self.issues if isinstance(issue, dict)]


class UnknownScheduleError(NotFoundError):
    """404: no schedule of that name."""


class TaskConflictError(RefusedError):
    """409: the request conflicts with a task that exists: an idempotency ``key`` reused with
    other fields, or ``delete`` of a task that has not ended (cancel it first)."""


class GraphError(RefusedError, ValueError):
    """422: a graph of tasks that cannot be submitted (a cycle, an ``after`` naming nothing in
    the graph, a malformed node); nothing of it was queued."""


class QueueFullError(RefusedError):
    """429: the service's queue is full; try again later."""


class ServerStoppingError(RefusedError):
    """503: the server is stopping and takes no new tasks."""


_REFUSALS: dict[int, type[RefusedError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    409: TaskConflictError,
    413: PayloadTooLargeError,
    422: TaskValidationError,
    429: QueueFullError,
    503: ServerStoppingError,
}

_REFUSALS_BY_NAME: dict[tuple[int, str], type[RefusedError]] = {
    (404, "UnknownServiceError"): UnknownServiceError,
    (404, "UnknownTaskTypeError"): UnknownTaskTypeError,
    (404, "UnknownTaskError"): UnknownTaskError,
    (404, "ScheduleError"): UnknownScheduleError,
    (422, "GraphError"): GraphError,
}
"""Refusals told apart by the error ``name`` the server gives beside the status."""


class TaskExecutionError(ZestError):
    """A task ended in an error outcome: ``ename``, ``evalue``, ``traceback`` (a kernel's
    own, without colour codes), ``task_id`` and the whole ``outcome``. The remote traceback is
    attached as a note, so it prints under the local one."""

    def __init__(self, outcome: Mapping[str, Any]) -> None:
        self.outcome = dict(outcome)
        self.task_id: str = str(outcome.get("id", ""))
        self.ename: str = str(outcome.get("ename", "Error"))
        self.evalue: str = str(outcome.get("evalue", ""))
        self.traceback: str = str(outcome.get("traceback") or "")
        super().__init__(f"{self.ename}: {self.evalue}")
        if self.traceback and hasattr(self, "add_note"):
            self.add_note(f"remote traceback (task {self.task_id}):\n{self.traceback}")


class TaskTimeoutError(ZestError, TimeoutError):
    """The task did not end within the time given to ``result``; it runs on."""

    def __init__(self, task_id: str, timeout: float) -> None:
        super().__init__(f"task {task_id} did not end within {timeout:g} s (it runs on)")
        self.task_id = task_id
        self.timeout = timeout


# --- configuration -------------------------------------------------------------------------------


class _Endpoint:
    """Where the server is and how to authenticate: resolved once, shared by the transports."""

    def __init__(self, url: str | None, token: str | None) -> None:
        raw = url or os.environ.get("ZEST_URL") or DEFAULT_URL
        parsed = urllib.parse.urlsplit(raw)
        scheme = {"ws": "http", "wss": "https"}.get(parsed.scheme, parsed.scheme)
        if scheme not in ("http", "https") or not parsed.hostname:
            raise ConfigError(f"the server URL must look like http://127.0.0.1:8787, got {raw!r}")
        self.secure = scheme == "https"
        self.host = parsed.hostname
        self.port = parsed.port or (443 if self.secure else 80)
        self.prefix = parsed.path.rstrip("/")
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{scheme}://{netloc}:{self.port}{self.prefix}/"
        self.ws_url = f"{'wss' if self.secure else 'ws'}://{netloc}:{self.port}{self.prefix}/"
        self.host_header = f"{netloc}:{self.port}"
        self.token, self.token_source = _resolve_token(token)
        self.headers = {
            "Host": self.host_header,
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }


def _resolve_token(token: str | None) -> tuple[str, str]:
    """The token and where it came from: the argument, ZEST_TOKEN, or .zest/token upwards."""
    if token:
        return _checked_token(token, "the token argument"), "the token argument"
    from_env = os.environ.get("ZEST_TOKEN")
    if from_env:
        return _checked_token(from_env, "ZEST_TOKEN"), "ZEST_TOKEN"
    searched = []
    for directory in (Path.cwd(), *Path.cwd().parents):
        path = directory / TOKEN_FILE
        searched.append(str(path))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as error:
            raise ConfigError(f"cannot read the token file {path}: {error}") from None
        return _checked_token(text.strip(), str(path)), str(path)
    raise ConfigError(
        "no token: pass token=..., set ZEST_TOKEN, or run where `deno task start` wrote "
        f".zest/token (looked in {', '.join(searched)})"
    )


def _checked_token(token: str, source: str) -> str:
    if not _TOKEN_SHAPE.fullmatch(token):
        raise ConfigError(
            f"the token from {source} is not usable: it needs 16 to 512 characters from "
            "A-Z a-z 0-9 and !#$%&'*+.^_`|~-"
        )
    return token


# --- the protocol, without I/O -------------------------------------------------------------------
#
# Each API call is a generator that yields the HTTP exchanges (and pauses) it needs and
# returns its value; the sync and async clients only drive them. One implementation of every
# call, two ways to wait.


class _Call:
    """One HTTP exchange an operation needs."""

    __slots__ = ("method", "path", "body", "timeout", "task_id")

    def __init__(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        timeout: float | None = None,
        task_id: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.body = body
        self.timeout = timeout
        self.task_id = task_id  # the task waited for, to say so if the server goes away


class _Pause:
    """Wait before the next exchange (only after the server answered a wait early)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class _Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


_Op = Generator["_Call | _Pause", "_Response | None", Any]


def _quote(value: str, name: str = "task_id") -> str:
    """``value`` for a URL path; ``name`` is the parameter it came from, for the error."""
    if not isinstance(value, str) or value == "":
        raise TypeError(f"{name} must be a non-empty string, got {value!r}")
    return urllib.parse.quote(value, safe="")


def _seconds(value: Any, name: str) -> float | None:
    """A wait of ``value`` seconds (None: no bound), checked before anything is sent; ``name``
    is the parameter the caller passed (``wait``, ``timeout``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, got {value!r}")
    if not value >= 0:  # NaN too
        raise ValueError(f"{name} must be >= 0 seconds or None, got {value!r}")
    return value


def _limit(value: Any, name: str) -> int | None:
    """A page size of 1 to 1000 (None: the server's default); ``name`` is the parameter."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number (1 to 1000), got {value!r}")
    if not 1 <= value <= 1000:
        raise ValueError(f"{name} must be from 1 to 1000, got {value!r}")
    return value


def _refusal(response: _Response, call: _Call, token_source: str) -> RefusedError:
    body = response.json()
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error = body["error"]
    else:
        error = http.client.responses.get(response.status, "error")
    if response.status == 401:
        error = f"{error}: the server refused the token from {token_source}"
    cls = _REFUSALS.get(response.status, RefusedError)
    name = body.get("name") if isinstance(body, dict) else None
    by_name = _REFUSALS_BY_NAME.get((response.status, name)) if isinstance(name, str) else None
    if by_name is not None:
        cls = by_name
    elif cls is NotFoundError and call.path.startswith("/tasks/"):
        cls = UnknownTaskError
    elif cls is NotFoundError and call.path.startswith("/schedules/"):
        cls = UnknownScheduleError
    return cls(response.status, error, body)


def _expect(response: _Response, call: _Call, token_source: str, *ok: int) -> Any:
    """The JSON of a response whose status is one of ``ok``; else its refusal, raised."""
    if response.status not in ok:
        raise _refusal(response, call, token_source)
    return response.json()


def _json_default(value: Any) -> Any:
    # numpy arrays and scalars (and anything else with .tolist()) become JSON values.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _encode(payload: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(payload, allow_nan=False, default=_json_default).encode("utf-8")
    except ValueError as error:  # NaN or infinity: JSON has no spelling for them
        raise ValueError(f"the task cannot be sent as JSON: {error}") from None


def _attributes(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"attributes must be a dict, got {type(value).__name__}")
    return dict(value)


def _milliseconds(name: str) -> Any:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_DURATION_MS:
            raise ValueError(
                f"{name} must be a positive number of milliseconds up to {MAX_DURATION_MS}, got {value!r}"
            )
        return value

    return check


def _priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"priority must be a whole number (-1000 to 1000), got {value!r}")
    if not -1000 <= value <= 1000:
        raise ValueError(f"priority must be from -1000 to 1000, got {value!r}")
    return value


def _key(value: Any) -> str:
    if not isinstance(value, str) or value == "":
        raise TypeError(f"key must be a non-empty string, got {value!r}")
    return value


def _after(value: Any) -> list[str]:
    """Task ids (in a graph, also names of its nodes), from ids or submitted requests."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"after must be a list of task ids or requests, got {value!r}")
    ids = []
    for item in value:
        task_id = getattr(item, "task_id", item)  # a TaskRequest or AsyncTaskRequest
        if not isinstance(task_id, str) or task_id == "":
            raise TypeError(f"after must hold task ids or requests, got {item!r}")
        ids.append(task_id)
    return ids


def _on_dependency_failure(value: Any) -> str:
    if value not in ("cancel", "run"):
        raise ValueError(f'on_dependency_failure must be "cancel" or "run", got {value!r}')
    return value


_REQUEST_OPTIONS: dict[str, tuple[str, Any]] = {
    "attributes": ("attributes", _attributes),
    "timeout_ms": ("timeoutMs", _milliseconds("timeout_ms")),
    "priority": ("priority", _priority),
    "key": ("key", _key),
    "after": ("after", _after),
    "on_dependency_failure": ("onDependencyFailure", _on_dependency_failure),
    "expires_in_ms": ("expiresInMs", _milliseconds("expires_in_ms")),
}
"""Each request option: its name on the wire, and its check (of the type and the bounds the API
documents, so that a wrong one is refused before anything is sent; the server checks them again)."""


def _task_payload(
    service: str, task: Any, fields: Mapping[str, Any] | None, options: Mapping[str, Any]
) -> tuple[dict[str, Any], str]:
    """The submission of a task (the ``POST /tasks`` body, a graph's node) for any accepted way
    of naming a task, with ``options`` under their Python names; and the type's name."""
    if not isinstance(service, str) or service == "":
        raise TypeError(f"service must be a non-empty string, got {service!r}")
    if isinstance(task, str):
        type_name = task
        if fields is not None and not isinstance(fields, Mapping):
            raise TypeError(f"fields must be a dict, got {type(fields).__name__}")
        task_fields = dict(fields or {})
    elif hasattr(task, "TASK_TYPE") and callable(getattr(task, "to_fields", None)):
        if fields is not None:
            raise TypeError("give fields either in the task object or as fields=, not both")
        type_name = task.TASK_TYPE
        task_fields = task.to_fields()
    elif isinstance(task, Mapping) and isinstance(task.get("type"), str):
        if fields is not None:
            raise TypeError("give fields either in the task dict or as fields=, not both")
        type_name = task["type"]
        task_fields = dict(task.get("fields") or {})
    else:
        raise TypeError(
            "task must be a type name (with fields=), an object of a generated task class, "
            f"or {{'type': ..., 'fields': ...}}; got {type(task).__name__}"
        )
    if type_name == "":
        raise TypeError("the task type name must not be empty")
    payload: dict[str, Any] = {"service": service, "type": type_name, "fields": task_fields}
    for name, value in options.items():
        if value is not None:
            wire, check = _REQUEST_OPTIONS[name]
            payload[wire] = check(value)
    return payload, type_name


_GRAPH_NODE_KEYS = ("service", "task", "fields", *(n for n in _REQUEST_OPTIONS if n != "key"))


def _graph_body(graph: Mapping[str, Mapping[str, Any]]) -> bytes:
    """The ``POST /graphs`` body: each node named, as ``_task_payload`` makes it."""
    if not isinstance(graph, Mapping) or not graph:
        raise TypeError("graph must be a non-empty dict of {name: {service, task, ...}}")
    nodes = {}
    for name, node in graph.items():
        if not isinstance(name, str) or name == "":
            raise TypeError(f"graph names must be non-empty strings, got {name!r}")
        if not isinstance(node, Mapping):
            raise TypeError(f"graph node {name!r} must be a dict {{service, task, ...}}, got {node!r}")
        unknown = [key for key in node if key not in _GRAPH_NODE_KEYS]
        if unknown:
            raise TypeError(
                f"graph node {name!r} has unknown keys {unknown} (it takes {', '.join(_GRAPH_NODE_KEYS)})"
            )
        options = {key: value for key, value in node.items() if key in _REQUEST_OPTIONS}
        nodes[name], _ = _task_payload(node.get("service"), node.get("task"), node.get("fields"), options)
    return _encode(nodes)


def _submit_op(token_source: str, body: bytes, path: str = "/tasks") -> _Op:
    """The id of the task ``body`` submits (``path``: ``/tasks/:id/rerun`` submits one again)."""
    call = _Call("POST", path, body)
    response = yield call
    data = _expect(response, call, token_source, 202, 200, 201)
    if not isinstance(data, dict) or not isinstance(data.get("taskId"), str):
        raise ZestError(f"the server accepted the task but sent no task id: {response.body[:200]!r}")
    return data["taskId"]


def _wait_op(token_source: str, task_id: str, timeout: float | None) -> _Op:
    """The outcome of ``task_id``, or None if it has not ended when ``timeout`` s have passed
    (``None``: wait until it ends; checked by the caller with ``_seconds``, which names the
    parameter the user passed). Long waits go in chunks: the server caps one at 5 min."""
    deadline = None if timeout is None else time.monotonic() + timeout
    path = f"/tasks/{_quote(task_id)}/outcome"
    early = 0
    while True:
        remaining = MAX_WAIT_CHUNK_S if deadline is None else max(0.0, deadline - time.monotonic())
        chunk = min(MAX_WAIT_CHUNK_S, remaining)
        call = _Call(
            "GET", f"{path}?wait={int(chunk * 1000)}ms", timeout=chunk + 30.0, task_id=task_id
        )
        asked = time.monotonic()
        response = yield call
        data = _expect(response, call, token_source, 200, 202)
        if response.status == 200:
            return data
        if deadline is not None and time.monotonic() >= deadline:
            return None
        # A wait answered long before it was up: the server is ending waits (stopping).
        # Ask again, but do not spin.
        if time.monotonic() - asked < chunk / 2:
            yield _Pause(min(1.0, 0.05 * 2**early))
            early += 1
        else:
            early = 0


def _get_op(token_source: str, path: str, ok: tuple[int, ...] = (200,)) -> _Op:
    call = _Call("GET", path)
    response = yield call
    return _expect(response, call, token_source, *ok)


def _cancel_op(token_source: str, task_id: str) -> _Op:
    call = _Call("POST", f"/tasks/{_quote(task_id)}/cancel", b"")
    response = yield call
    data = _expect(response, call, token_source, 200)
    return bool(isinstance(data, dict) and data.get("cancelled"))


def _post_op(token_source: str, path: str) -> _Op:
    """``POST path`` without a body; its JSON."""
    call = _Call("POST", path, b"")
    response = yield call
    return _expect(response, call, token_source, 200)


def _delete_op(token_source: str, task_id: str) -> _Op:
    call = _Call("DELETE", f"/tasks/{_quote(task_id)}")
    response = yield call
    _expect(response, call, token_source, 204, 200)


def _rerun_op(token_source: str, task_id: str) -> _Op:
    """The new task's id, and the service and type of the task it re-runs."""
    record = yield from _record_op(token_source, task_id)
    new_id = yield from _submit_op(token_source, b"", f"/tasks/{_quote(task_id)}/rerun")
    return new_id, record["service"], record["type"]


def _dot_op(token_source: str, task_id: str) -> _Op:
    call = _Call("GET", f"/tasks/{_quote(task_id)}/graph")
    response = yield call
    if response.status != 200:
        raise _refusal(response, call, token_source)
    return response.body.decode("utf-8")


def _graph_op(token_source: str, body: bytes) -> _Op:
    call = _Call("POST", "/graphs", body)
    response = yield call
    data = _expect(response, call, token_source, 202, 200, 201)
    if not isinstance(data, dict) or not isinstance(data.get("ids"), dict):
        raise ZestError(f"the server accepted the graph but sent no ids: {response.body[:200]!r}")
    return data["ids"]


def _schedules_op(token_source: str) -> _Op:
    data = yield from _get_op(token_source, "/schedules")
    return data["schedules"] if isinstance(data, dict) else data


def _schedule_action_op(token_source: str, name: str, action: str) -> _Op:
    """``pause``, ``resume`` or ``run`` the schedule ``name``; its new status."""
    return (yield from _post_op(token_source, f"/schedules/{_quote(name, 'name')}/{action}"))


def _record_op(token_source: str, task_id: str) -> _Op:
    return (yield from _get_op(token_source, f"/tasks/{_quote(task_id)}"))


def _release_op(token_source: str, service: str) -> _Op:
    data = yield from _post_op(token_source, f"/services/{_quote(service, 'service')}/release")
    return bool(isinstance(data, dict) and data.get("released"))


def _request_op(
    token_source: str, service: str, task: Any, fields: Mapping[str, Any] | None, options: dict[str, Any]
) -> _Op:
    """The new task's id and its type name (the payload is checked before anything is sent)."""
    payload, type_name = _task_payload(service, task, fields, options)
    task_id = yield from _submit_op(token_source, _encode(payload))
    return task_id, type_name


TASK_STATES = ("waiting", "queued", "running", "succeeded", "failed", "cancelled", "expired")
"""Every state a task can be in, in the order a task goes through them."""


class TaskPage(list):  # type: ignore[type-arg]
    """One page of task summaries, newest first: a list, and ``next``, the ``cursor`` of the
    following page (None on the last one)."""

    def __init__(self, records: Iterable[dict[str, Any]], next: str | None = None) -> None:
        super().__init__(records)
        self.next = next

    def __repr__(self) -> str:
        return f"TaskPage({list.__repr__(self)}, next={self.next!r})"


def _queue_path(service: str, limit: int | None) -> str:
    path = f"/services/{_quote(service, 'service')}/queue"
    return path if _limit(limit, "limit") is None else f"{path}?limit={limit}"


def _tasks_op(token_source: str, path: str) -> _Op:
    page = yield from _get_op(token_source, path)
    if isinstance(page, list):  # a server from before pages
        return TaskPage(page)
    return TaskPage(page.get("records") or [], page.get("next"))


_ISO_START = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")


def _check_calendar(text: str, name: str) -> None:
    """Refuse an ISO text whose date or time does not exist: the server's ``Date.parse`` would
    roll ``2026-11-31`` over to December 1 instead."""
    match = _ISO_START.match(text)
    if match is None:
        return  # not an ISO date: the server says whether it reads it
    fields = [int(field) for field in match.groups(default="0")]
    try:
        datetime.datetime(*fields)
    except ValueError as error:
        raise ValueError(f"{name} must be a date that exists, got {text!r}: {error}") from None


def _time_param(value: Any, name: str) -> int | str:
    """A time for a list query: ms since the epoch, or an ISO text the server reads."""
    if isinstance(value, datetime.datetime):  # a naive one is local time, as Python says
        return int(value.timestamp() * 1000)
    if isinstance(value, datetime.date):
        return value.isoformat()  # midnight UTC
    if isinstance(value, datetime.timedelta):
        return int((time.time() - value.total_seconds()) * 1000)
    if isinstance(value, str) and value:
        _check_calendar(value, name)
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return int(value * 1000)  # seconds since the epoch, as time.time() gives
    raise TypeError(
        f"{name} must be a datetime, a date, a timedelta (that long ago), an ISO date text or "
        f"seconds since the epoch; got {value!r}"
    )


def _states_param(state: Any) -> str:
    states = [state] if isinstance(state, str) else state
    if not isinstance(states, Iterable) or isinstance(states, Mapping):
        raise TypeError(f"state must be a state or a list of states, got {state!r}")
    states = list(states)
    for one in states:
        if one not in TASK_STATES:
            raise ValueError(f"{one!r} is not a task state (states: {', '.join(TASK_STATES)})")
    if not states:
        raise ValueError("state must name at least one state")
    return ",".join(states)


def _tasks_path(
    service: str | None = None,
    state: Any = None,
    limit: int | None = None,
    type: str | None = None,
    key: str | None = None,
    since: Any = None,
    until: Any = None,
    cursor: str | None = None,
    limit_name: str = "limit",
) -> str:
    """``GET /tasks`` with the query of these filters (checked here where the client can say
    more than the server would); ``limit_name`` is the parameter ``limit`` came from."""
    query: dict[str, Any] = {}
    for name, value in (("service", service), ("type", type), ("key", key), ("cursor", cursor)):
        if value is not None:
            if not isinstance(value, str) or value == "":
                raise TypeError(f"{name} must be a non-empty string, got {value!r}")
            query[name] = value
    if state is not None:
        query["state"] = _states_param(state)
    if since is not None:
        query["createdSince"] = _time_param(since, "since")
    if until is not None:
        query["createdUntil"] = _time_param(until, "until")
    if _limit(limit, limit_name) is not None:
        query["limit"] = limit
    return "/tasks" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def _next_cursor(page: TaskPage, cursor: str | None) -> str | None:
    """The cursor of the page after ``page`` (asked for with ``cursor``); None after the last."""
    if page.next is not None and page.next == cursor:
        raise ZestError(f"the server gave the same page twice (cursor {cursor!r})")
    return page.next


def _ended(task_id: str, outcome: dict[str, Any] | None, timeout: float | None) -> dict[str, Any]:
    """``outcome``, or ``TaskTimeoutError`` if the wait of ``timeout`` s ended without one."""
    if outcome is None:
        raise TaskTimeoutError(task_id, timeout if timeout is not None else 0.0)
    return outcome


def _result_of(outcome: Mapping[str, Any]) -> Any:
    if outcome.get("status") == "ok":
        return outcome.get("result")
    raise TaskExecutionError(outcome)


def _display_and_check(outcome: Mapping[str, Any]) -> None:
    """Show the outcome's rich outputs, then raise ``TaskExecutionError`` if the task failed."""
    display_outcome(outcome)
    _result_of(outcome)


# --- rich outputs --------------------------------------------------------------------------------


def _bundles(outcome: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The MIME bundles of a kernel task's outcome, in order: displays, then the result's."""
    execution = outcome.get("execution")
    if not isinstance(execution, Mapping):
        return []
    out = []
    items = list(execution.get("displays") or [])
    if execution.get("executeResult"):
        items.append(execution["executeResult"])
    for item in items:
        if not isinstance(item, Mapping):
            continue
        # A bundle is {data, metadata}; a bare {mime: content} is accepted as its data.
        data = item.get("data") if isinstance(item.get("data"), Mapping) else item
        metadata = item.get("metadata") if isinstance(item.get("metadata"), Mapping) else {}
        out.append((dict(data), dict(metadata)))
    return out


def display_outcome(outcome: Mapping[str, Any]) -> None:
    """Show a kernel task's displays and rich result: with ``IPython.display`` when IPython
    is importable (images and HTML in a notebook), else their text on stdout."""
    try:
        from IPython.display import display  # type: ignore[import-not-found]
    except ImportError:
        display = None
    for data, metadata in _bundles(outcome):
        if display is not None:
            display(data, metadata=metadata, raw=True)
        else:
            print(data.get("text/plain") or f"<{', '.join(data)}>")


# --- sync HTTP -----------------------------------------------------------------------------------


def _connection_error(endpoint: _Endpoint, call: _Call, error: BaseException) -> ZestConnectionError:
    if call.task_id is not None:
        message = (
            f"lost the Zest server at {endpoint.url} while waiting for task {call.task_id} "
            f"({type(error).__name__}: {error}); the task may still run there: "
            f"ask outcome({call.task_id!r}) once the server is back"
        )
    else:
        message = f"cannot reach the Zest server at {endpoint.url} ({type(error).__name__}: {error})"
    return ZestConnectionError(message, url=endpoint.url, task_id=call.task_id)


def _read_limited(response: http.client.HTTPResponse) -> bytes:
    length = response.getheader("content-length")
    if length is not None and int(length) > MAX_RESPONSE_BYTES:
        raise ZestError(f"the response of {length} bytes is over the limit of {MAX_RESPONSE_BYTES}")
    body = response.read(MAX_RESPONSE_BYTES + 1)
    if len(body) > MAX_RESPONSE_BYTES:
        raise ZestError(f"the response is over the limit of {MAX_RESPONSE_BYTES} bytes")
    return body


class _SyncHTTP:
    """Keep-alive HTTP/1.1 connections, one per thread, so a client can be shared."""

    def __init__(self, endpoint: _Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._local = threading.local()
        self._all: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def _fresh(self) -> http.client.HTTPConnection:
        e = self.endpoint
        if e.secure:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                e.host, e.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(e.host, e.port, timeout=self.timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._all.add(conn)
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        with self._lock:
            self._all.discard(conn)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def _idle(self) -> http.client.HTTPConnection | None:
        """This thread's idle connection, unless the server has closed it meanwhile."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.sock is None:
            return None
        readable, _, _ = select.select([conn.sock], [], [], 0)
        if readable:  # an idle connection has nothing to read, unless it was closed
            self._drop(conn)
            return None
        return conn

    def exchange(self, call: _Call) -> _Response:
        reused = self._idle()
        try:
            return self._exchange(reused or self._fresh(), call)
        except (http.client.HTTPException, ConnectionError) as error:
            # A reused connection the server closed just now: a GET may safely go again.
            if reused is None or call.method != "GET":
                raise _connection_error(self.endpoint, call, error) from None
        except OSError as error:
            raise _connection_error(self.endpoint, call, error) from None
        try:
            return self._exchange(self._fresh(), call)
        except (http.client.HTTPException, OSError) as error:
            raise _connection_error(self.endpoint, call, error) from None

    def _exchange(self, conn: http.client.HTTPConnection, call: _Call) -> _Response:
        self._local.conn = None  # busy until the response is read in full
        try:
            conn.sock.settimeout(call.timeout or self.timeout)
            headers = dict(self.endpoint.headers)
            if call.body is not None:
                headers["Content-Type"] = "application/json"
            conn.request(call.method, self.endpoint.prefix + call.path, body=call.body, headers=headers)
            response = conn.getresponse()
            body = _read_limited(response)
        except BaseException:
            self._drop(conn)
            raise
        if response.will_close:
            self._drop(conn)
        else:
            self._local.conn = conn
        return _Response(response.status, {k.lower(): v for k, v in response.getheaders()}, body)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, set()
        for conn in conns:
            conn.close()


# --- async HTTP ----------------------------------------------------------------------------------


class _AsyncHTTP:
    """HTTP/1.1 on asyncio streams, with a pool of keep-alive connections: no threads, so
    many waits can be pending at once, in whatever loop runs (Jupyter's included)."""

    def __init__(self, endpoint: _Endpoint, timeout: float, max_connections: int) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.max_connections = max_connections
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    def _bind(self) -> asyncio.Semaphore:
        # Streams belong to the loop that made them: a client used from a new loop starts afresh.
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            for _, writer in self._idle:
                writer.transport.abort()
            self._idle = []
            self._loop = loop
            self._slots = asyncio.Semaphore(self.max_connections)
        return self._slots

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        e = self.endpoint
        return await asyncio.open_connection(
            e.host, e.port, ssl=ssl.create_default_context() if e.secure else None,
            limit=1 << 20,
        )

    async def exchange(self, call: _Call) -> _Response:
        async with self._bind():
            reused = None
            while self._idle:
                reader, writer = self._idle.pop()
                if reader.at_eof() or writer.is_closing():
                    writer.transport.abort()
                    continue
                reused = (reader, writer)
                break
            try:
                try:
                    return await self._exchange(reused or await self._open(), call)
                except (ConnectionError, asyncio.IncompleteReadError, _EmptyResponse) as error:
                    if reused is None or call.method != "GET":
                        raise _connection_error(self.endpoint, call, error) from None
                return await self._exchange(await self._open(), call)
            except asyncio.TimeoutError as error:
                raise _connection_error(
                    self.endpoint, call, TimeoutError(f"no answer within {call.timeout or self.timeout:g} s")
                ) from error
            except (OSError, asyncio.IncompleteReadError, _EmptyResponse, ValueError) as error:
                raise _connection_error(self.endpoint, call, error) from None

    async def _exchange(
        self, stream: tuple[asyncio.StreamReader, asyncio.StreamWriter], call: _Call
    ) -> _Response:
        reader, writer = stream
        try:
            response = await asyncio.wait_for(self._roundtrip(reader, writer, call), call.timeout or self.timeout)
        except BaseException:
            writer.transport.abort()
            raise
        status, headers, body = response
        if headers.get("connection", "").lower() == "close":
            writer.close()
        else:
            self._idle.append(stream)
        return _Response(status, headers, body)

    async def _roundtrip(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, call: _Call
    ) -> tuple[int, dict[str, str], bytes]:
        headers = dict(self.endpoint.headers)
        body = call.body
        if body is not None:
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(len(body))
        head = f"{call.method} {self.endpoint.prefix}{call.path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        writer.write(head.encode("latin-1") + b"\r\n" + (body or b""))
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise _EmptyResponse("the server closed the connection without answering")
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ValueError(f"not an HTTP response: {status_line[:100]!r}")
        status = int(parts[1])
        response_headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise _EmptyResponse("the server closed the connection mid-response")
            name, _, value = line.decode("latin-1").partition(":")
            response_headers[name.strip().lower()] = value.strip()
        if status in (204, 304) or 100 <= status < 200:
            data = b""  # a response without a body, whatever its headers say
        elif response_headers.get("transfer-encoding", "").lower() == "chunked":
            data = await self._chunked(reader)
        elif "content-length" in response_headers:
            length = int(response_headers["content-length"])
            if length > MAX_RESPONSE_BYTES:
                raise ValueError(f"a response of {length} bytes is over the limit of {MAX_RESPONSE_BYTES}")
            data = await reader.readexactly(length)
        else:
            data = await reader.read(MAX_RESPONSE_BYTES + 1)
            response_headers["connection"] = "close"
        if len(data) > MAX_RESPONSE_BYTES:
            raise ValueError(f"the response is over the limit of {MAX_RESPONSE_BYTES} bytes")
        return status, response_headers, data

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            line = await reader.readline()
            if not line:
                raise _EmptyResponse("the server closed the connection mid-response")
            length = int(line.split(b";", 1)[0].strip(), 16)
            if length == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            size += length
            if size > MAX_RESPONSE_BYTES:
                raise ValueError(f"the response is over the limit of {MAX_RESPONSE_BYTES} bytes")
            parts.append(await reader.readexactly(length))
            await reader.readexactly(2)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()


class _EmptyResponse(ConnectionError):
    """The connection ended before a whole response arrived."""


# --- task requests -------------------------------------------------------------------------------


class TaskRequest:
    """A submitted task: ``task_id`` at once, the outcome later.

    ``result(timeout)`` returns the result or raises ``TaskExecutionError`` (or
    ``TaskTimeoutError`` if it has not ended in time); ``wait(timeout)`` returns the outcome
    dict (or None if not ended in time); ``outcome`` is the outcome if the task has ended, else
    None (it asks the server once, without waiting); ``display()`` shows its rich outputs.
    """

    def __init__(self, client: Client, task_id: str, service: str, type_name: str) -> None:
        self._client = client
        self.task_id = task_id
        self.service = service
        self.type = type_name
        self._outcome: dict[str, Any] | None = None

    def __repr__(self) -> str:
        state = "pending" if self._outcome is None else self._outcome.get("status")
        return f"<TaskRequest {self.type} on {self.service} {self.task_id} {state}>"

    def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The outcome, waiting up to ``timeout`` s (None: until it ends); None if not ended."""
        if self._outcome is None:
            self._outcome = self._client.outcome(self.task_id, wait=_seconds(timeout, "timeout"))
        return self._outcome

    def result(self, timeout: float | None = None) -> Any:
        """The task's result; raises ``TaskExecutionError`` if it failed, ``TaskTimeoutError``
        if it has not ended within ``timeout`` s (it runs on)."""
        return _result_of(_ended(self.task_id, self.wait(timeout), timeout))

    @property
    def outcome(self) -> dict[str, Any] | None:
        """The outcome if the task has ended (asks the server once if not known yet), else None."""
        return self.wait(0)

    def done(self) -> bool:
        """Whether the task has ended."""
        return self.outcome is not None

    def cancel(self) -> bool:
        """Cancel the task; False if it had already ended."""
        return self._client.cancel(self.task_id)

    def display(self, timeout: float | None = None) -> None:
        """Wait for the task and show its displays and rich result (see ``display_outcome``);
        raises ``TaskExecutionError`` after showing them if the task failed."""
        _display_and_check(_ended(self.task_id, self.wait(timeout), timeout))


class AsyncTaskRequest:
    """A submitted task, for ``AsyncClient``: ``await request`` is ``await request.result()``.
    ``outcome`` is the outcome once a wait has seen it (no I/O); ask with ``await wait(0)``."""

    def __init__(self, client: AsyncClient, task_id: str, service: str, type_name: str) -> None:
        self._client = client
        self.task_id = task_id
        self.service = service
        self.type = type_name
        self.outcome: dict[str, Any] | None = None

    def __repr__(self) -> str:
        state = "pending" if self.outcome is None else self.outcome.get("status")
        return f"<AsyncTaskRequest {self.type} on {self.service} {self.task_id} {state}>"

    async def wait(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The outcome, waiting up to ``timeout`` s (None: until it ends); None if not ended."""
        if self.outcome is None:
            self.outcome = await self._client.outcome(self.task_id, wait=_seconds(timeout, "timeout"))
        return self.outcome

    async def result(self, timeout: float | None = None) -> Any:
        """The task's result; raises ``TaskExecutionError`` or ``TaskTimeoutError``."""
        return _result_of(_ended(self.task_id, await self.wait(timeout), timeout))

    def __await__(self) -> Generator[Any, None, Any]:
        return self.result().__await__()

    async def done(self) -> bool:
        """Whether the task has ended."""
        return await self.wait(0) is not None

    async def cancel(self) -> bool:
        """Cancel the task; False if it had already ended."""
        return await self._client.cancel(self.task_id)

    async def display(self, timeout: float | None = None) -> None:
        """As ``TaskRequest.display``."""
        _display_and_check(_ended(self.task_id, await self.wait(timeout), timeout))


# --- clients -------------------------------------------------------------------------------------


def _exchange_timeout(timeout: Any) -> float:
    """The ``timeout`` of one HTTP exchange: a positive, finite number of seconds (0 would make
    every socket non-blocking; no bound would let a silent server hang every call)."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds, got {timeout!r}")
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(f"timeout must be a positive, finite number of seconds, got {timeout!r}")
    return timeout


class Client:
    """A blocking client; thread-safe (one keep-alive connection per thread).

    ``url``: the server (``http://`` or ``ws://``, as ``deno task start`` prints it), else
    ``ZEST_URL``, else http://127.0.0.1:8787. ``token``: else ``ZEST_TOKEN``, else
    ``.zest/token`` in the working directory or a parent. ``timeout``: seconds for one HTTP
    exchange (waits for outcomes get their own).
    """

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 30.0) -> None:
        self._endpoint = _Endpoint(url, token)
        self._http = _SyncHTTP(self._endpoint, _exchange_timeout(timeout))

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self._endpoint.url

    def __repr__(self) -> str:
        return f"<zest_client.Client {self.url}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections (the client reconnects if used again)."""
        self._http.close()

    def _run(self, operation: Callable[..., _Op], *args: Any) -> Any:
        """Drive ``operation(token source, *args)``: each exchange and pause it asks for."""
        op = operation(self._endpoint.token_source, *args)
        try:
            step = next(op)
            while True:
                if isinstance(step, _Pause):
                    time.sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(self._http.exchange(step))
        except StopIteration as done:
            return done.value
        finally:
            op.close()

    def request(
        self,
        service: str,
        task: Any,
        fields: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        timeout_ms: float | None = None,
        *,
        priority: int | None = None,
        key: str | None = None,
        after: Iterable[str | TaskRequest] | None = None,
        on_dependency_failure: str | None = None,
        expires_in_ms: float | None = None,
    ) -> TaskRequest:
        """Submit a task; returns as soon as the server has given it an id.

        ``task``: a type name with ``fields`` (the schema's names), an object of a generated
        task class, or ``{"type", "fields"}``. ``attributes``: metadata kept on the record;
        ``timeout_ms``: overrides the type's timeout. ``priority``: on a serial service, higher
        runs first (-1000 to 1000, FIFO within one). ``key``: an idempotency key — the same key
        with the same fields gives the first task's id again. ``after``: ids (or requests) of
        tasks this one waits for; if one fails, this one is cancelled, or runs anyway with
        ``on_dependency_failure="run"``. ``expires_in_ms``: still queued this long after
        submission, it ends ``expired`` without running.

        Raises a ``RefusedError`` subclass if the server refuses it: 422
        ``TaskValidationError`` names the bad fields or options, 404 ``UnknownServiceError``,
        ``UnknownTaskTypeError``, ``UnknownTaskError`` (an id in ``after``), 409
        ``TaskConflictError`` (the key was used with other fields), 429 ``QueueFullError``.
        """
        options = dict(
            attributes=attributes, timeout_ms=timeout_ms, priority=priority, key=key, after=after,
            on_dependency_failure=on_dependency_failure, expires_in_ms=expires_in_ms,
        )
        task_id, type_name = self._run(_request_op, service, task, fields, options)
        return TaskRequest(self, task_id, service, type_name)

    def execute(
        self,
        service: str,
        task: Any,
        fields: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        timeout_ms: float | None = None,
        *,
        timeout: float | None = None,
        priority: int | None = None,
        key: str | None = None,
        after: Iterable[str | TaskRequest] | None = None,
        on_dependency_failure: str | None = None,
        expires_in_ms: float | None = None,
    ) -> Any:
        """Submit a task (as ``request``) and wait (``timeout`` s, None: until it ends): its
        result, or raises ``TaskExecutionError``."""
        _seconds(timeout, "timeout")  # a wrong timeout is refused before the task is sent
        request = self.request(
            service, task, fields, attributes, timeout_ms, priority=priority, key=key, after=after,
            on_dependency_failure=on_dependency_failure, expires_in_ms=expires_in_ms,
        )
        return request.result(timeout)

    def submit_graph(self, graph: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
        """Submit tasks that depend on each other at once, all or none: ``{name: {"service",
        "task", "fields"?, "after"?: [names of the graph, or ids], ...}}`` (a node takes the
        options of ``request`` but ``key``). Returns ``{name: task id}``. A cycle or an
        ``after`` naming nothing raises ``GraphError`` (422); nothing is queued then."""
        return self._run(_graph_op, _graph_body(graph))

    def status(self, task_id: str) -> dict[str, Any]:
        """The task's record: state, attempts, timestamps, log, outcome, dependencies."""
        return self._run(_record_op, task_id)

    def outcome(self, task_id: str, wait: float | None = 0.0) -> dict[str, Any] | None:
        """The task's outcome, waiting up to ``wait`` s for it (None: until it ends);
        None if it has not ended by then. Raises ``UnknownTaskError`` for an unknown id."""
        return self._run(_wait_op, task_id, _seconds(wait, "wait"))

    def cancel(self, task_id: str) -> bool:
        """Cancel a task: a waiting or queued one never runs, a running one is told to stop.
        False if it had already ended."""
        return self._run(_cancel_op, task_id)

    def delete(self, task_id: str) -> None:
        """Remove the record of a task that has ended. Raises ``TaskConflictError`` (409) if it
        has not (cancel it first), ``UnknownTaskError`` if there is no such task."""
        self._run(_delete_op, task_id)

    def rerun(self, task_id: str) -> TaskRequest:
        """Submit a task again: the same service, type, fields and attributes; the new record
        names the old one in ``rerunOf``. Raises ``UnknownTaskError`` for an unknown id."""
        new_id, service, type_name = self._run(_rerun_op, task_id)
        return TaskRequest(self, new_id, service, type_name)

    def graph(self, task_id: str) -> str:
        """The dependency graph around a task, as Graphviz DOT text."""
        return self._run(_dot_op, task_id)

    def tasks(
        self,
        service: str | None = None,
        state: str | Iterable[str] | None = None,
        limit: int | None = None,
        *,
        type: str | None = None,
        key: str | None = None,
        since: datetime.datetime | datetime.date | datetime.timedelta | str | float | None = None,
        until: datetime.datetime | datetime.date | datetime.timedelta | str | float | None = None,
        cursor: str | None = None,
    ) -> TaskPage:
        """One page of task summaries (no fields, log or outcome; a ``brief`` of it), newest
        first: a list whose ``next`` is the ``cursor`` of the following page (None on the last).

        Filters: ``service``, ``type``, ``key`` (the idempotency key), ``state`` (one, or a list
        of them: any of them), created ``since`` / ``until`` (a datetime — a naive one is local
        time —, a date, a timedelta meaning that long ago, an ISO text, or seconds since the
        epoch). ``limit``: 1-1000 per page (server default 100). ``iter_tasks`` follows the
        pages for you."""
        path = _tasks_path(service, state, limit, type, key, since, until, cursor)
        return self._run(_tasks_op, path)

    def iter_tasks(
        self,
        service: str | None = None,
        state: str | Iterable[str] | None = None,
        *,
        type: str | None = None,
        key: str | None = None,
        since: datetime.datetime | datetime.date | datetime.timedelta | str | float | None = None,
        until: datetime.datetime | datetime.date | datetime.timedelta | str | float | None = None,
        page_size: int | None = None,
        cursor: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every task summary the filters of ``tasks`` match, newest first, asking for the
        next page (``page_size`` at a time) as the iteration goes."""
        while True:
            path = _tasks_path(service, state, page_size, type, key, since, until, cursor, "page_size")
            page = self._run(_tasks_op, path)
            yield from page
            cursor = _next_cursor(page, cursor)
            if cursor is None:
                return

    def services(self) -> list[dict[str, Any]]:
        """Services, their task types with JSON Schemas, queue depths, kernel status, and a
        stuck serial lane (``state: "stuck"``, ``stuck: {taskId, since}``)."""
        return self._run(_get_op, "/services")

    def release(self, service: str) -> bool:
        """Free a service's serial lane that a handler still holds after its task ended (the
        service shows ``stuck``), so the next task runs. False if it was not stuck."""
        return self._run(_release_op, service)

    def queue(self, service: str, limit: int | None = None) -> list[dict[str, Any]]:
        """A serial service's queue in the order it will run (higher ``priority`` first, then
        arrival), the task holding the lane first: task summaries, at most ``limit`` (1-1000,
        server default 100)."""
        return self._run(_get_op, _queue_path(service, limit))

    def store(self) -> dict[str, Any]:
        """Where the server keeps its records: ``kind`` (``sqlite`` or ``memory``), ``path``,
        ``bytes`` on disk, ``records``."""
        return self._run(_get_op, "/store")

    def schedules(self) -> list[dict[str, Any]]:
        """The server's schedules: ``name``, ``service``, ``every`` or ``cron`` (and
        ``timezone``), ``state`` (``scheduled``, ``paused``, ``stopped``), ``running``,
        ``lastRunAt``, ``nextRunAt`` (ms since the epoch), ``runs``, ``skips``."""
        return self._run(_schedules_op)

    def pause_schedule(self, name: str) -> dict[str, Any]:
        """Pause a schedule: no run starts until it is resumed. Its new status;
        ``UnknownScheduleError`` if there is none of that name."""
        return self._run(_schedule_action_op, name, "pause")

    def resume_schedule(self, name: str) -> dict[str, Any]:
        """Resume a paused schedule from its next slot (missed slots are not caught up)."""
        return self._run(_schedule_action_op, name, "resume")

    def run_schedule(self, name: str) -> dict[str, Any]:
        """Run a schedule now, unless its last run is still going; its clock is unchanged."""
        return self._run(_schedule_action_op, name, "run")

    def watch(self, service: str | None = None) -> EventStream:
        """Live events over the WebSocket API: ``{"kind": "task", "record"}`` (a task changed
        state), ``"log"``, ``"progress"`` (``{fraction, message, at}``), ``"output"`` (what a
        running task prints or displays), ``"removed"`` (a record deleted), ``"service"`` and
        ``"schedule"``. Only ``service``'s if given (events of a task that began before the
        watch are kept). Iterate it; use ``with`` to be subscribed before the block runs and
        to close it. Needs ``python3-websockets``."""
        return EventStream(self._endpoint, service)


class AsyncClient:
    """The same API as ``Client``, for ``asyncio``: every call is a coroutine. It runs in
    whatever loop is running (Jupyter's included) and uses no threads; use it as
    ``async with AsyncClient() as client:`` or ``await client.close()`` at the end.
    ``max_connections`` bounds the connections open at once (waits queue beyond it)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        max_connections: int = 100,
    ) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise TypeError(f"max_connections must be a whole number, got {max_connections!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self._endpoint = _Endpoint(url, token)
        self._http = _AsyncHTTP(self._endpoint, _exchange_timeout(timeout), max_connections)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self._endpoint.url

    def __repr__(self) -> str:
        return f"<zest_client.AsyncClient {self.url}>"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the idle connections."""
        await self._http.close()

    async def _run(self, operation: Callable[..., _Op], *args: Any) -> Any:
        """Drive ``operation(token source, *args)``: await each exchange and pause it asks for."""
        op = operation(self._endpoint.token_source, *args)
        try:
            step = next(op)
            while True:
                if isinstance(step, _Pause):
                    await asyncio.sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(await self._http.exchange(step))
        except StopIteration as done:
            return done.value
        finally:
            op.close()

    async def request(
        self,
        service: str,
        task: Any,
        fields: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        timeout_ms: float | None = None,
        *,
        priority: int | None = None,
        key: str | None = None,
        after: Iterable[str | AsyncTaskRequest] | None = None,
        on_dependency_failure: str | None = None,
        expires_in_ms: float | None = None,
    ) -> AsyncTaskRequest:
        """As ``Client.request``."""
        options = dict(
            attributes=attributes, timeout_ms=timeout_ms, priority=priority, key=key, after=after,
            on_dependency_failure=on_dependency_failure, expires_in_ms=expires_in_ms,
        )
        task_id, type_name = await self._run(_request_op, service, task, fields, options)
        return AsyncTaskRequest(self, task_id, service, type_name)

    async def execute(
        self,
        service: str,
        task: Any,
        fields: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        timeout_ms: float | None = None,
        *,
        timeout: float | None = None,
        priority: int | None = None,
        key: str | None = None,
        after: Iterable[str | AsyncTaskRequest] | None = None,
        on_dependency_failure: str | None = None,
        expires_in_ms: float | None = None,
    ) -> Any:
        """As ``Client.execute``."""
        _seconds(timeout, "timeout")  # a wrong timeout is refused before the task is sent
        request = await self.request(
            service, task, fields, attributes, timeout_ms, priority=priority, key=key, after=after,
            on_dependency_failure=on_dependency_failure, expires_in_ms=expires_in_ms,
        )
        return await request.result(timeout)

    async def submit_graph(self, graph: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
        """As ``Client.submit_graph``."""
        return await self._run(_graph_op, _graph_body(graph))

    async def status(self, task_id: str) -> dict[str, Any]:
        """As ``Client.status``."""
        return await self._run(_record_op, task_id)

    async def outcome(self, task_id: str, wait: float | None = 0.0) -> dict[str, Any] | None:
        """As ``Client.outcome``."""
        return await self._run(_wait_op, task_id, _seconds(wait, "wait"))

    async def cancel(self, task_id: str) -> bool:
        """As ``Client.cancel``."""
        return await self._run(_cancel_op, task_id)

    async def delete(self, task_id: str) -> None:
        """As ``Client.delete``."""
        await self._run(_delete_op, task_id)

    async def rerun(self, task_id: str) -> AsyncTaskRequest:
        """As ``Client.rerun``."""
        new_id, service, type_name = await self._run(_rerun_op, task_id)
        return AsyncTaskRequest(self, new_id, service, type_name)

    async def graph(self, task_id: str) -> str:
        """As ``Client.graph``."""
        return await self._run(_dot_op, task_id)

    async def tasks(
        self,
        service: str | None = None,
        state: str | Iterable[str] | None = None,
        limit: int | None = None,
        *,
        type: str | None = None,
        key: str | None = None,
        since: datetime.datetime | datetime.date | datetime.timedelta | str | float | None = None,
        until: datetime.datetime | datetime.date | datetime.timedelta | str | float | None = None,
        cursor: str | None = None,
    ) -> TaskPage:
        """As ``Client.tasks``."""
        path = _tasks_path(service, state, limit, type, key, since, until, cursor)
        return await self._run(_tasks_op, path)

    async def iter_tasks(
        self,
        service: str | None = None,
        state: str | Iterable[str] | None = None,
        *,
        type: str | None = None,
        key: str | None = None,
        since: datetime.datetime | datetime.date | datetime.timedelta | str | float | None = None,
        until: datetime.datetime | datetime.date | datetime.timedelta | str | float | None = None,
        page_size: int | None = None,
        cursor: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """As ``Client.iter_tasks``: ``async for record in client.iter_tasks(...)``."""
        while True:
            path = _tasks_path(service, state, page_size, type, key, since, until, cursor, "page_size")
            page = await self._run(_tasks_op, path)
            for record in page:
                yield record
            cursor = _next_cursor(page, cursor)
            if cursor is None:
                return

    async def services(self) -> list[dict[str, Any]]:
        """As ``Client.services``."""
        return await self._run(_get_op, "/services")

    async def release(self, service: str) -> bool:
        """As ``Client.release``."""
        return await self._run(_release_op, service)

    async def queue(self, service: str, limit: int | None = None) -> list[dict[str, Any]]:
        """As ``Client.queue``."""
        return await self._run(_get_op, _queue_path(service, limit))

    async def store(self) -> dict[str, Any]:
        """As ``Client.store``."""
        return await self._run(_get_op, "/store")

    async def schedules(self) -> list[dict[str, Any]]:
        """As ``Client.schedules``."""
        return await self._run(_schedules_op)

    async def pause_schedule(self, name: str) -> dict[str, Any]:
        """As ``Client.pause_schedule``."""
        return await self._run(_schedule_action_op, name, "pause")

    async def resume_schedule(self, name: str) -> dict[str, Any]:
        """As ``Client.resume_schedule``."""
        return await self._run(_schedule_action_op, name, "resume")

    async def run_schedule(self, name: str) -> dict[str, Any]:
        """As ``Client.run_schedule``."""
        return await self._run(_schedule_action_op, name, "run")

    def watch(self, service: str | None = None) -> AsyncEventStream:
        """As ``Client.watch``: ``async with client.watch() as events: async for event in events``."""
        return AsyncEventStream(self._endpoint, service)


# --- live events ---------------------------------------------------------------------------------


def _websockets() -> Any:
    try:
        import websockets  # type: ignore[import-not-found]
    except ImportError:
        raise ZestError(
            "watch needs the websockets package: apt-get install -y python3-websockets"
        ) from None
    return websockets


class _ServiceFilter:
    """Which events ``watch(service=...)`` keeps. A task's progress, output, log and removal
    carry only its id, so the service of each task seen is remembered (the latest
    ``MAX_WATCHED_TASKS``); the events of a task not seen (it began before the watch) are kept."""

    def __init__(self, service: str | None) -> None:
        if service is not None and (not isinstance(service, str) or service == ""):
            # Anything else would match no event, and the watch would wait in silence.
            raise TypeError(f"service must be a non-empty string or None, got {service!r}")
        self.service = service
        self._services: dict[str, str] = {}

    def keeps(self, event: Mapping[str, Any]) -> bool:
        if self.service is None:
            return True
        kind = event.get("kind")
        part = event.get({"task": "record", "service": "service", "schedule": "schedule"}.get(kind, ""))
        part = part if isinstance(part, Mapping) else {}
        if kind == "task":
            task_id, service = part.get("id"), part.get("service")
            if isinstance(task_id, str) and task_id not in self._services:
                self._services[task_id] = service
                if len(self._services) > MAX_WATCHED_TASKS:
                    del self._services[next(iter(self._services))]
            return service == self.service
        if kind == "service":
            return part.get("name") == self.service
        if kind == "schedule":
            return part.get("service") == self.service
        known = self._services.get(event.get("id"))
        if kind == "removed":
            self._services.pop(event.get("id"), None)
        return known is None or known == self.service


class AsyncEventStream:
    """Live task events over the WebSocket API, as an async iterator. ``async with`` subscribes
    before its block runs (iterating subscribes on first use otherwise) and closes at the end.
    A server that goes away ends iteration with ``ZestConnectionError``."""

    def __init__(self, endpoint: _Endpoint, service: str | None) -> None:
        self._endpoint = endpoint
        self._filter = _ServiceFilter(service)
        self._socket: Any = None
        self._closed = False

    async def open(self) -> AsyncEventStream:
        """Connect and subscribe (done for you by ``async with`` or the first iteration)."""
        if self._socket is not None:
            return self
        websockets = _websockets()
        e = self._endpoint
        try:
            self._socket = await websockets.connect(
                e.ws_url,
                subprotocols=[_PROTOCOL, f"token.{e.token}"],
                max_size=MAX_EVENT_BYTES,
                open_timeout=30,
            )
        except Exception as error:
            status = getattr(error, "status_code", None) or getattr(
                getattr(error, "response", None), "status_code", None
            )
            if status == 401:
                raise UnauthorizedError(401, f"unauthorized: the server refused the token from {e.token_source}") from None
            if status is not None:
                raise RefusedError(status, f"the WebSocket upgrade was refused: {error}") from None
            raise ZestConnectionError(
                f"cannot reach the Zest server at {e.ws_url} ({type(error).__name__}: {error})", url=e.ws_url
            ) from None
        await self._socket.send(json.dumps({"type": "subscribe", "ref": "watch"}))
        while True:  # events may not come before the subscription is confirmed, but be lenient
            message = await self._receive()
            if message.get("type") == "subscribe":
                return self
            if message.get("type") == "error":
                raise ZestError(f"the server refused to subscribe: {message.get('error')}")

    async def _receive(self) -> dict[str, Any]:
        websockets = _websockets()
        try:
            text = await self._socket.recv()
        except websockets.exceptions.ConnectionClosed as closed:
            if self._closed:
                raise StopAsyncIteration from None
            rcvd = getattr(closed, "rcvd", None)
            why = f"{rcvd.code} {rcvd.reason}".strip() if rcvd is not None else "no close frame"
            raise ZestConnectionError(
                f"the Zest server at {self._endpoint.ws_url} closed the event stream ({why})",
                url=self._endpoint.ws_url,
            ) from None
        message = json.loads(text)
        return message if isinstance(message, dict) else {}

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._closed:
            raise StopAsyncIteration
        await self.open()
        while True:
            message = await self._receive()
            if message.get("type") != "event" or not isinstance(message.get("event"), dict):
                continue
            event = message["event"]
            if self._filter.keeps(event):
                return event

    async def __aenter__(self) -> AsyncEventStream:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop following events."""
        self._closed = True
        if self._socket is not None:
            await self._socket.close()


class EventStream:
    """Live task events for ``Client``, as an iterator. The WebSocket runs in a thread of its
    own with its own event loop, so this works inside a running loop (Jupyter) too. ``with``
    subscribes before its block runs and closes at the end; ``get(timeout)`` waits at most
    ``timeout`` s (``TimeoutError`` after)."""

    def __init__(self, endpoint: _Endpoint, service: str | None) -> None:
        self._stream = AsyncEventStream(endpoint, service)
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(MAX_BUFFERED_EVENTS)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._closed = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def open(self) -> EventStream:
        """Connect and subscribe (done for you by ``with`` or the first ``get``)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="zest-watch", daemon=True)
            self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.run(self._pump())

    async def _pump(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._pump_task = asyncio.current_task()
        try:
            try:
                await self._stream.open()
            except BaseException as error:
                self._error = error
                return
            finally:
                self._ready.set()
            async for event in self._stream:
                if self._closed.is_set():
                    return
                self._put(("event", event))
            self._put(("end", None))
        except asyncio.CancelledError:
            pass
        except BaseException as error:
            self._put(("error", error))
        finally:
            await self._stream.close()

    def _put(self, item: tuple[str, Any]) -> None:
        # A full queue holds the reader back (the server then buffers); close() still works.
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self, timeout: float | None = None) -> dict[str, Any]:
        """The next event, waiting up to ``timeout`` s (None: as long as it takes). Like
        ``next()``, raises ``StopIteration`` once the stream is closed."""
        self.open()
        if self._closed.is_set() and self._queue.empty():
            raise StopIteration
        try:
            kind, value = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event within {timeout:g} s") from None
        if kind == "error":
            raise value
        if kind == "end":
            raise StopIteration
        return value

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        return self.get()

    def __enter__(self) -> EventStream:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop following events and end the thread."""
        self._closed.set()
        loop, task = self._loop, self._pump_task
        if loop is not None and task is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass  # the loop ended meanwhile
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
