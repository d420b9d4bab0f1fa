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

Outcomes are the server's JSON, as dicts: ``{"status": "ok", "id", "result"}`` or
``{"status": "error", "id", "ename", "evalue", "traceback"}``, with ``execution`` for
kernel tasks. A failed task raises ``TaskExecutionError``; a refused submission raises a
``RefusedError`` subclass naming the HTTP status and the server's reason; an unreachable
server raises ``ZestConnectionError`` (a ``ConnectionError``).

Bounds: a response body over 256 MiB, or a live event over 64 MiB, is refused; ``watch``
buffers at most 10,000 unread events (then the server waits, and drops a reader that lags far
behind); a long wait is asked of the server in chunks of at most 60 s (it caps one at 5 min).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import queue
import re
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
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
    "NotFoundError",
    "PayloadTooLargeError",
    "QueueFullError",
    "RefusedError",
    "ServerStoppingError",
    "TaskExecutionError",
    "TaskRequest",
    "TaskTimeoutError",
    "TaskValidationError",
    "UnauthorizedError",
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

MAX_RESPONSE_BYTES = 256 * 1024 * 1024
"""Largest response body read."""

MAX_EVENT_BYTES = 64 * 1024 * 1024
"""Largest WebSocket message read by ``watch``."""

MAX_BUFFERED_EVENTS = 10_000
"""Unread events ``Client.watch`` keeps before it stops reading from the server."""

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


class QueueFullError(RefusedError):
    """429: the service's queue is full; try again later."""


class ServerStoppingError(RefusedError):
    """503: the server is stopping and takes no new tasks."""


_REFUSALS: dict[int, type[RefusedError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    422: TaskValidationError,
    429: QueueFullError,
    503: ServerStoppingError,
}

_NOT_FOUND_BY_NAME: dict[str, type[NotFoundError]] = {
    "UnknownServiceError": UnknownServiceError,
    "UnknownTaskTypeError": UnknownTaskTypeError,
}


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


def _quote(task_id: str) -> str:
    if not isinstance(task_id, str) or task_id == "":
        raise TypeError(f"a task id must be a non-empty string, got {task_id!r}")
    return urllib.parse.quote(task_id, safe="")


def _refusal(response: _Response, call: _Call, token_source: str) -> RefusedError:
    body = response.json()
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error = body["error"]
    else:
        error = http.client.responses.get(response.status, "error")
    if response.status == 401:
        error = f"{error}: the server refused the token from {token_source}"
    cls = _REFUSALS.get(response.status, RefusedError)
    if cls is NotFoundError:
        name = body.get("name") if isinstance(body, dict) else None
        if name in _NOT_FOUND_BY_NAME:
            cls = _NOT_FOUND_BY_NAME[name]
        elif call.path.startswith("/tasks/"):
            cls = UnknownTaskError
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


def _submit_body(
    service: str,
    task: Any,
    fields: Mapping[str, Any] | None,
    attributes: Mapping[str, Any] | None,
    timeout_ms: float | None,
) -> tuple[bytes, str]:
    """The ``POST /tasks`` body for any accepted way of naming a task; and the type's name."""
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
    if attributes is not None:
        if not isinstance(attributes, Mapping):
            raise TypeError(f"attributes must be a dict, got {type(attributes).__name__}")
        payload["attributes"] = dict(attributes)
    if timeout_ms is not None:
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)) or not timeout_ms > 0:
            raise ValueError(f"timeout_ms must be a positive number of milliseconds, got {timeout_ms!r}")
        payload["timeoutMs"] = timeout_ms
    return _encode(payload), type_name


def _submit_op(token_source: str, body: bytes) -> _Op:
    call = _Call("POST", "/tasks", body)
    response = yield call
    data = _expect(response, call, token_source, 202, 200, 201)
    if not isinstance(data, dict) or not isinstance(data.get("taskId"), str):
        raise ZestError(f"the server accepted the task but sent no task id: {response.body[:200]!r}")
    return data["taskId"]


def _wait_op(token_source: str, task_id: str, timeout: float | None) -> _Op:
    """The outcome of ``task_id``, or None if it has not ended when ``timeout`` s have passed
    (``None``: wait until it ends). Long waits go in chunks: the server caps one at 5 min."""
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds or None, got {timeout!r}")
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


def _tasks_op(token_source: str, path: str) -> _Op:
    page = yield from _get_op(token_source, path)
    return page["records"] if isinstance(page, dict) else page


def _tasks_path(service: str | None, state: str | None, limit: int | None) -> str:
    query = {
        key: value
        for key, value in (("service", service), ("state", state), ("limit", limit))
        if value is not None
    }
    return "/tasks" + (f"?{urllib.parse.urlencode(query)}" if query else "")


def _result_of(outcome: Mapping[str, Any]) -> Any:
    if outcome.get("status") == "ok":
        return outcome.get("result")
    raise TaskExecutionError(outcome)


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
        if response_headers.get("transfer-encoding", "").lower() == "chunked":
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
            self._outcome = self._client.outcome(self.task_id, wait=timeout)
        return self._outcome

    def result(self, timeout: float | None = None) -> Any:
        """The task's result; raises ``TaskExecutionError`` if it failed, ``TaskTimeoutError``
        if it has not ended within ``timeout`` s (it runs on)."""
        outcome = self.wait(timeout)
        if outcome is None:
            raise TaskTimeoutError(self.task_id, timeout if timeout is not None else 0.0)
        return _result_of(outcome)

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
        outcome = self.wait(timeout)
        if outcome is None:
            raise TaskTimeoutError(self.task_id, timeout if timeout is not None else 0.0)
        display_outcome(outcome)
        _result_of(outcome)


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
            self.outcome = await self._client.outcome(self.task_id, wait=timeout)
        return self.outcome

    async def result(self, timeout: float | None = None) -> Any:
        """The task's result; raises ``TaskExecutionError`` or ``TaskTimeoutError``."""
        outcome = await self.wait(timeout)
        if outcome is None:
            raise TaskTimeoutError(self.task_id, timeout if timeout is not None else 0.0)
        return _result_of(outcome)

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
        outcome = await self.wait(timeout)
        if outcome is None:
            raise TaskTimeoutError(self.task_id, timeout if timeout is not None else 0.0)
        display_outcome(outcome)
        _result_of(outcome)


# --- clients -------------------------------------------------------------------------------------


class Client:
    """A blocking client; thread-safe (one keep-alive connection per thread).

    ``url``: the server (``http://`` or ``ws://``, as ``deno task start`` prints it), else
    ``ZEST_URL``, else http://127.0.0.1:8787. ``token``: else ``ZEST_TOKEN``, else
    ``.zest/token`` in the working directory or a parent. ``timeout``: seconds for one HTTP
    exchange (waits for outcomes get their own).
    """

    def __init__(self, url: str | None = None, token: str | None = None, *, timeout: float = 30.0) -> None:
        self._endpoint = _Endpoint(url, token)
        self._http = _SyncHTTP(self._endpoint, timeout)

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

    def _run(self, op: _Op) -> Any:
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
    ) -> TaskRequest:
        """Submit a task; returns as soon as the server has given it an id.

        ``task``: a type name with ``fields`` (the schema's names), an object of a generated
        task class, or ``{"type", "fields"}``. ``attributes``: metadata kept on the record;
        ``timeout_ms``: overrides the type's timeout. Raises a ``RefusedError`` subclass if the
        server refuses it (422 ``TaskValidationError`` names the bad fields).
        """
        body, type_name = _submit_body(service, task, fields, attributes, timeout_ms)
        task_id = self._run(_submit_op(self._endpoint.token_source, body))
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
    ) -> Any:
        """Submit a task and wait (``timeout`` s, None: until it ends): its result, or raises
        ``TaskExecutionError``."""
        return self.request(service, task, fields, attributes, timeout_ms).result(timeout)

    def status(self, task_id: str) -> dict[str, Any]:
        """The task's record: state, attempts, timestamps, log, outcome."""
        return self._run(_get_op(self._endpoint.token_source, f"/tasks/{_quote(task_id)}"))

    def outcome(self, task_id: str, wait: float | None = 0.0) -> dict[str, Any] | None:
        """The task's outcome, waiting up to ``wait`` s for it (None: until it ends);
        None if it has not ended by then. Raises ``UnknownTaskError`` for an unknown id."""
        return self._run(_wait_op(self._endpoint.token_source, task_id, wait))

    def cancel(self, task_id: str) -> bool:
        """Cancel a task: a queued one never runs, a running one is told to stop. False if it
        had already ended."""
        return self._run(_cancel_op(self._endpoint.token_source, task_id))

    def tasks(
        self, service: str | None = None, state: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Task summaries (no fields, log or outcome; a ``brief``), newest first.
        ``limit`` 1-1000 (server default 100)."""
        return self._run(_tasks_op(self._endpoint.token_source, _tasks_path(service, state, limit)))

    def services(self) -> list[dict[str, Any]]:
        """Services, their task types with JSON Schemas, queue depths, kernel status."""
        return self._run(_get_op(self._endpoint.token_source, "/services"))

    def watch(self, service: str | None = None) -> EventStream:
        """Live task events (``{"kind": "task" | "log" | "service", ...}``) over the WebSocket
        API; only ``service``'s if given. Iterate it; use ``with`` to be subscribed before the
        block runs and to close it. Needs ``python3-websockets``."""
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
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self._endpoint = _Endpoint(url, token)
        self._http = _AsyncHTTP(self._endpoint, timeout, max_connections)

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

    async def _run(self, op: _Op) -> Any:
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
    ) -> AsyncTaskRequest:
        """As ``Client.request``."""
        body, type_name = _submit_body(service, task, fields, attributes, timeout_ms)
        task_id = await self._run(_submit_op(self._endpoint.token_source, body))
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
    ) -> Any:
        """As ``Client.execute``."""
        request = await self.request(service, task, fields, attributes, timeout_ms)
        return await request.result(timeout)

    async def status(self, task_id: str) -> dict[str, Any]:
        """As ``Client.status``."""
        return await self._run(_get_op(self._endpoint.token_source, f"/tasks/{_quote(task_id)}"))

    async def outcome(self, task_id: str, wait: float | None = 0.0) -> dict[str, Any] | None:
        """As ``Client.outcome``."""
        return await self._run(_wait_op(self._endpoint.token_source, task_id, wait))

    async def cancel(self, task_id: str) -> bool:
        """As ``Client.cancel``."""
        return await self._run(_cancel_op(self._endpoint.token_source, task_id))

    async def tasks(
        self, service: str | None = None, state: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """As ``Client.tasks``."""
        return await self._run(_tasks_op(self._endpoint.token_source, _tasks_path(service, state, limit)))

    async def services(self) -> list[dict[str, Any]]:
        """As ``Client.services``."""
        return await self._run(_get_op(self._endpoint.token_source, "/services"))

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


def _event_service(event: Mapping[str, Any]) -> str | None:
    if event.get("kind") == "task" and isinstance(event.get("record"), Mapping):
        return event["record"].get("service")
    if event.get("kind") == "service" and isinstance(event.get("service"), Mapping):
        return event["service"].get("name")
    return None


class AsyncEventStream:
    """Live task events over the WebSocket API, as an async iterator. ``async with`` subscribes
    before its block runs (iterating subscribes on first use otherwise) and closes at the end.
    A server that goes away ends iteration with ``ZestConnectionError``."""

    def __init__(self, endpoint: _Endpoint, service: str | None) -> None:
        self._endpoint = endpoint
        self._service = service
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
            if self._service is None or _event_service(event) in (None, self._service):
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
