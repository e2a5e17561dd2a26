"""A stand-in OPA server for the tests: the parts of OPA's REST API that `OpaEngine` (through
opa-python-client) uses, served over real HTTP on 127.0.0.1, deciding with OPA's own Go
evaluator (the opa-golib-python-bindings package, OPA v1.20), so the OPA server path is
tested on OPA's semantics, not on regorus'.

The package index has no OPA server binary, so the shared decision suite runs against this
server; `test_opa_real.py` runs the same checks against a real OPA when `OPA_URL` is set.

Implemented, as OPA v1 documents them (https://www.openpolicyagent.org/docs/rest-api):

- `PUT /v1/policies/{id}`, body the Rego text: compiled by OPA with the other modules, as
  OPA does on upload; 200 `{}`, or 400 `{"code": "invalid_parameter", "message": ...,
  "errors": [{"code": "rego_parse_error" (or `rego_type_error`, …), "message", "location":
  {"file", "row", "col"}}]}`. Uploading a module identical to the stored one is not compiled
  again (the outcome could not differ), which keeps per-test re-uploads cheap.
- `GET /v1/policies`: 200 `{"result": [{"id", "raw"}]}` (no `ast`: the client's list call
  reads only `id`).
- `DELETE /v1/policies/{id}`: 200 `{}`, or 404 `{"code": "resource_not_found", ...}`.
- `PUT /v1/data/{path}`, body a JSON document: stored at the path (parents created); 204.
- `DELETE /v1/data/{path}`: 204, or 404 `resource_not_found`.
- `POST /v1/data/{path}`, body `{"input": ...}`: evaluates `data.<path>` over the stored
  modules and data; 200 `{"result": value}`, or 200 `{}` when undefined; 500
  `{"code": "internal_error", ...}` on an evaluation error; 400 on a body that is not JSON.
- `GET /health`: 200 `{}`.

Not implemented (404 `{"code": "resource_not_found"}`): `GET /v1/data`, `PATCH /v1/data`,
`POST /v1/query`, `/v1/compile`, `/v1/config`, `/v1/status`, `/metrics`, query parameters
(`explain`, `metrics`, `pretty`, `instrument`, `strict-builtin-errors`), bundles, decision
logs, authentication. Unlike OPA, the column of an upload error is not reported (0).

For the fail-closed tests the server can be told to stall (`delay`), to answer the next
decision queries with an error status (`fail_queries`), or to answer garbage
(`garbage_queries`).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

# OPA's Go evaluator; tests/policy/conftest.py skips (or, in CI, fails) without it.
with contextlib.suppress(ImportError):
    from opa_bindings import OpaEngine, OpaError, OpaUndefinedError

# `file.rego:12: rego_type_error: message` in OPA's compile errors.
_COMPILE_ERROR = re.compile(r"(?P<file>\S+?):(?P<row>\d+): (?P<code>rego_\w+): (?P<message>[^\n]*)")


class FakeOpa:
    """The server's state and its HTTP front; `start()` serves on an ephemeral port."""

    def __init__(self) -> None:
        self.modules: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.requests: list[tuple[str, str]] = []
        self.delay = 0.0
        self.fail_queries = 0
        self.garbage_queries = 0
        self._engine: Any = None  # built lazily from the stored modules and data
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _serve(self) -> None:
        self._server.serve_forever()

    def start(self) -> FakeOpa:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- the API, called on the server thread ---------------------------------------------

    def put_policy(self, policy_id: str, text: str) -> tuple[int, dict[str, Any]]:
        if self.modules.get(policy_id) == text:
            return 200, {}
        candidate = {**self.modules, policy_id: text}
        try:
            _compiled(candidate, {})
        except OpaError as exc:
            return 400, {
                "code": "invalid_parameter",
                "message": "error(s) occurred while compiling module(s)",
                "errors": _compile_errors(exc),
            }
        self.modules = candidate
        self._engine = None
        return 200, {}

    def delete_policy(self, policy_id: str) -> tuple[int, dict[str, Any] | None]:
        if policy_id not in self.modules:
            return 404, _not_found(f"storage_not_found_error: policy id {policy_id!r}")
        del self.modules[policy_id]
        self._engine = None
        return 200, {}

    def put_data(self, path: list[str], document: Any) -> tuple[int, dict[str, Any] | None]:
        if _at(self.data, path) == (True, document):
            return 204, None  # unchanged: no need to compile again
        if not path:
            if not isinstance(document, dict):
                return 400, {"code": "invalid_parameter", "message": "root must be an object"}
            self.data = document
        else:
            node = self.data
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = document
        self._engine = None
        return 204, None

    def delete_data(self, path: list[str]) -> tuple[int, dict[str, Any] | None]:
        node: Any = self.data
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if not path or not isinstance(node, dict) or path[-1] not in node:
            return 404, _not_found("storage_not_found_error: document missing")
        del node[path[-1]]
        self._engine = None
        return 204, None

    def query(self, path: list[str], input_doc: Any) -> tuple[int, dict[str, Any]]:
        if self.fail_queries:
            self.fail_queries -= 1
            return 500, {"code": "internal_error", "message": "injected failure"}
        if self._engine is None:
            self._engine = _compiled(self.modules, self.data)
        try:
            value = self._engine.eval_document(".".join(path), input_doc)
        except OpaUndefinedError:
            return 200, {}
        except OpaError as exc:
            return 500, {"code": "internal_error", "message": f"{exc.code}: {exc.message}"}
        return 200, {"result": value}


def _at(data: Any, path: list[str]) -> tuple[bool, Any]:
    """(found, value) of the document at `path`."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False, None
        data = data[key]
    return True, data


def _compiled(modules: dict[str, str], data: dict[str, Any]) -> Any:
    """An OPA engine over `modules` and `data`, compiled now (OPA compiles every module on
    upload). Raises OpaError with OPA's parse or compile errors."""
    engine = OpaEngine()
    engine.print_handler = lambda message, location: None
    for mid, module in modules.items():
        engine.add_policy(mid, module)
    engine.add_data(data)
    engine.eval_query("true")
    return engine


def _compile_errors(exc: Any) -> list[dict[str, Any]]:
    errors = [
        {
            "code": m["code"],
            "message": m["message"].strip(),
            "location": {"file": m["file"], "row": int(m["row"]), "col": 0},
        }
        for m in _COMPILE_ERROR.finditer(exc.message)
    ]
    return errors or [{"code": exc.code, "message": exc.message.split("\n")[0]}]


class _QuietServer(HTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client that timed out and hung up is what the time-out tests do


def _not_found(message: str) -> dict[str, Any]:
    return {"code": "resource_not_found", "message": message}


def _handler(opa: FakeOpa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # One request per connection: the server is single-threaded, and a kept-alive
        # connection would block every other client.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return None  # quiet: the tests read opa.requests instead

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, body: Any) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)

        def _route(self) -> tuple[str, list[str]]:
            path = urlsplit(self.path).path
            opa.requests.append((self.command, path))
            parts = [unquote(p) for p in path.strip("/").split("/") if p]
            if parts[:2] == ["v1", "policies"]:
                return "policies", parts[2:]
            if parts[:2] == ["v1", "data"]:
                return "data", parts[2:]
            if parts == ["health"]:
                return "health", []
            return "other", parts

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            kind, rest = self._route()
            if kind == "policies" and not rest:
                listing = [{"id": mid, "raw": text} for mid, text in sorted(opa.modules.items())]
                self._send(200, {"result": listing})
            elif kind == "health":
                self._send(200, {})
            else:
                self._send(404, _not_found("not implemented by the test server"))

        def do_PUT(self) -> None:  # noqa: N802
            kind, rest = self._route()
            body = self._body()
            if kind == "policies" and rest:
                self._send(*opa.put_policy("/".join(rest), body.decode("utf-8")))
            elif kind == "data":
                try:
                    document = json.loads(body or b"null")
                except ValueError:
                    self._send(400, {"code": "invalid_parameter", "message": "body not JSON"})
                    return
                self._send(*opa.put_data(rest, document))
            else:
                self._send(404, _not_found("not implemented by the test server"))

        def do_DELETE(self) -> None:  # noqa: N802
            kind, rest = self._route()
            if kind == "policies" and rest:
                self._send(*opa.delete_policy("/".join(rest)))
            elif kind == "data" and rest:
                self._send(*opa.delete_data(rest))
            else:
                self._send(404, _not_found("not implemented by the test server"))

        def do_POST(self) -> None:  # noqa: N802
            kind, rest = self._route()
            body = self._body()
            if kind != "data":
                self._send(404, _not_found("not implemented by the test server"))
                return
            if opa.delay:
                time.sleep(opa.delay)
            if opa.garbage_queries:
                opa.garbage_queries -= 1
                payload = b"<html>proxy error</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                self._send(400, {"code": "invalid_parameter", "message": "body not JSON"})
                return
            self._send(*opa.query(rest, request.get("input")))

    return Handler
