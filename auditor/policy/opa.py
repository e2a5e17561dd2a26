"""The OPA server backend: the same pack, evaluated by an Open Policy Agent server.

`OpaEngine` talks to OPA's REST API through `opa-python-client`:

- Policy API: `PUT /v1/policies/{id}` uploads each non-test module under the id
  `auditor-pack/<path>`; `GET /v1/policies` lists the server's modules so that modules of an
  earlier pack revision (same prefix, no longer in the pack) are removed with
  `DELETE /v1/policies/{id}`.
- Data API: `PUT /v1/data/auditor_data` pushes the policy data (the rules read
  `data.auditor_data`); `POST /v1/data/auditor/decision/result` with `{"input": ...}` asks
  for a decision: a generated module (`auditor-pack/_decision.rego`) answers the violations
  of `data.auditor.main.violations` with the revision of the pack it was uploaded with, and a
  decision from another revision fails. `POST /v1/data/auditor/main/violations`, `rules` and
  `duplicate_rule_ids` serve the catalogue and the load checks.
- Rego tests (`run_tests`) upload the `*_test.rego` modules under `auditor-pack-tests/` and
  the examples to `/v1/data/auditor_examples`, query each `test_*` rule with
  `POST /v1/data/<package>/<test>`, then delete both again.

Every request has the configured time-out and no retries. Any failure (connection refused,
time-out, an HTTP error, a malformed answer) raises PolicyError, which evaluation records
as not evaluated with the reason: never a pass. Messages name the server and the status,
never the input (which holds no content anyway).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from opa_client import OpaClient

from auditor.errors import PolicyError
from auditor.policy.engine import (
    DATA_ROOT,
    EXAMPLES_ROOT,
    PolicyBundle,
    RegoTestResult,
    RuleInfo,
    Violation,
    _violations,
    catalogue,
    rego_test_names,
    rego_test_result,
)

POLICY_PREFIX = "auditor-pack"
# A module generated per upload: it answers each decision together with the revision of the
# pack it was uploaded with, so a pack replaced on a shared server is noticed, not trusted.
DECISION_PACKAGE = "auditor.decision"
DECISION_MODULE = "_decision.rego"
TEST_PREFIX = "auditor-pack-tests"
MESSAGE_MAX = 300
# Rounds of uploads: a module that names a package not yet uploaded is retried after it.
UPLOAD_ROUNDS = 5

T = TypeVar("T")


def client_for(url: str, *, timeout: float, token: str | None = None) -> OpaClient:
    """An OpaClient for `url` (http or https, host and optional port, no path).
    Raises PolicyError for a URL it cannot use."""
    try:
        parts = urlsplit(url)
        explicit_port = parts.port  # ValueError for a port that is not a number 0-65535
    except ValueError:
        raise PolicyError(
            f"policy.opa_url {url!r} is not a valid URL", "e.g. http://opa:8181"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PolicyError(f"policy.opa_url {url!r} is not an http(s) URL", "e.g. http://opa:8181")
    if parts.path not in ("", "/") or parts.query:
        raise PolicyError(
            f"policy.opa_url {url!r} has a path", "give the server's base URL, e.g. http://opa:8181"
        )
    port = explicit_port or (443 if parts.scheme == "https" else 8181)
    return OpaClient(
        host=parts.hostname,
        port=port,
        ssl=parts.scheme == "https",
        timeout=timeout,
        retries=0,
        token=token,
    )


class OpaEngine:
    """Evaluates the pack on an OPA server; uploads it (policies and data) when built.

    Raises PolicyError from the constructor if the server cannot be reached, refuses a
    module (naming the file), or the pack fails its load checks there.
    """

    def __init__(
        self,
        bundle: PolicyBundle,
        url: str,
        *,
        timeout: float = 5.0,
        token: str | None = None,
        client: OpaClient | None = None,
    ) -> None:
        self._bundle = bundle
        self._revision = bundle.revision
        self._url = url
        self._timeout = timeout
        self._client = client or client_for(url, timeout=timeout, token=token)
        self._upload_pack()
        self._rules = self._check()

    @property
    def name(self) -> str:
        return "opa"

    @property
    def revision(self) -> str:
        return self._revision

    @property
    def bundle(self) -> PolicyBundle:
        return self._bundle

    # --- talking to the server ------------------------------------------------------------

    def _call(self, what: str, action: Callable[[], T]) -> T:
        """Run one client call; every failure becomes a PolicyError naming `what`."""
        try:
            return action()
        except PolicyError:
            raise
        except requests.Timeout:
            raise PolicyError(
                f"OPA server {self._url} did not answer within {self._timeout:g}s ({what})",
                "check the server, or raise policy.timeout_seconds",
            ) from None
        except requests.ConnectionError:
            raise PolicyError(
                f"cannot reach OPA server {self._url} ({what})",
                "start OPA (opa run --server) or fix policy.opa_url",
            ) from None
        except requests.HTTPError as exc:
            raise PolicyError(
                f"OPA server {self._url} answered {_status(exc.response)} ({what})"
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise PolicyError(
                f"OPA server {self._url}: unusable answer ({what}: {type(exc).__name__})"
            ) from None
        except Exception as exc:  # opa_client's own errors carry (expression, message)
            detail = _client_error(exc)
            raise PolicyError(f"OPA server {self._url} refused {what}: {detail}") from None

    def _query(self, package: str, rule: str, input_doc: Mapping[str, Any]) -> tuple[bool, Any]:
        """(defined, value) of `data.<package>.<rule>` for `input_doc`."""
        answer = self._call(
            f"query data.{package}.{rule}",
            lambda: self._client.query_rule(dict(input_doc), package, rule),
        )
        if not isinstance(answer, dict):
            raise PolicyError(f"OPA server {self._url}: answer to data.{package}.{rule} not JSON")
        return "result" in answer, answer.get("result")

    def _upload_modules(self, prefix: str, modules: list[tuple[str, str]]) -> None:
        pending = list(modules)
        for _ in range(UPLOAD_ROUNDS):
            failed: list[tuple[str, str, PolicyError]] = []
            for path, text in pending:
                try:
                    self._call(
                        f"policy file {path}",
                        partial(
                            self._client.update_policy_from_string,
                            text,
                            f"{prefix}/{path}",
                            rego_compat=False,
                        ),
                    )
                except PolicyError as exc:
                    failed.append((path, text, exc))
            if not failed or len(failed) == len(pending):
                if failed:
                    path, _text, refusal = failed[0]
                    raise PolicyError(
                        f"policy file {path} refused by OPA: {refusal.message}",
                        f"fix the Rego in {self._bundle.source}/{path}",
                    )
                return
            pending = [(path, text) for path, text, _exc in failed]

    def _upload_pack(self) -> None:
        modules = [(m.path, m.text) for m in self._bundle.modules if not m.is_test]
        modules.append((DECISION_MODULE, decision_module(self._revision)))
        self._call(
            "policy data upload",
            lambda: self._client.update_or_create_data(dict(self._bundle.data), DATA_ROOT),
        )
        self._upload_modules(POLICY_PREFIX, modules)
        current = {f"{POLICY_PREFIX}/{path}" for path, _ in modules}
        listed = self._call("policy list", self._client.get_policies_list)
        for policy_id in listed:
            if str(policy_id).startswith(f"{POLICY_PREFIX}/") and policy_id not in current:
                self._call(
                    f"removal of stale module {policy_id}",
                    partial(self._client.delete_policy, policy_id),
                )

    def _check(self) -> list[RuleInfo]:
        """The same load checks as the embedded engine, answered by the server."""
        _defined, duplicates = self._query("auditor.main", "duplicate_rule_ids", {})
        if duplicates:
            raise PolicyError(
                f"rule ids defined in more than one package: {', '.join(sorted(duplicates))}",
                "give every rules package its own metadata.id",
            )
        defined, raw = self._query("auditor.main", "violations", {})
        if not defined:
            raise PolicyError(
                "data.auditor.main.violations is undefined on the OPA server",
                "keep the aggregator in auditor/main.rego",
            )
        _violations(raw)
        defined, decision = self._query(DECISION_PACKAGE, "result", {})
        if not defined or not isinstance(decision, dict):
            raise PolicyError(f"data.{DECISION_PACKAGE}.result is undefined on the OPA server")
        _defined, raw_rules = self._query("auditor.main", "rules", {})
        return catalogue(
            self._bundle,
            duplicates=duplicates,
            raw_violations=raw,
            raw_rules=raw_rules,
            package_count=len(self._bundle.rules_packages),
        )

    # --- the PolicyEngine contract ----------------------------------------------------------

    def rules(self) -> list[RuleInfo]:
        return list(self._rules)

    def evaluate(self, input_doc: Mapping[str, Any]) -> list[Violation]:
        try:
            json.dumps(input_doc, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"policy input is not JSON: {exc}") from None
        defined, raw = self._query(DECISION_PACKAGE, "result", input_doc)
        if not defined or not isinstance(raw, dict):
            raise PolicyError(f"data.{DECISION_PACKAGE}.result is undefined on {self._url}")
        served = str(raw.get("revision"))[:64]
        if served != self._revision:
            # Another auditor (or an operator) replaced the pack on a shared server: these
            # verdicts would be recorded under a revision that did not make them.
            raise PolicyError(
                f"OPA server {self._url} runs policy pack revision {served[:12]}, "
                f"not {self._revision[:12]}",
                "another process replaced the pack; run again to upload this one",
            )
        return _violations(raw.get("violations"))

    def run_tests(self) -> list[RegoTestResult]:
        tests = [m for m in self._bundle.modules if m.is_test]
        self._call(
            "examples upload",
            lambda: self._client.update_or_create_data(dict(self._bundle.examples), EXAMPLES_ROOT),
        )
        try:
            self._upload_modules(TEST_PREFIX, [(m.path, m.text) for m in tests])
            results = []
            for module in tests:
                for name in rego_test_names(module.text):
                    results.append(self._run_one(module.package, name))
            return results
        finally:
            # Tests and examples are not part of the deployed pack: remove them again.
            for module in tests:
                with contextlib.suppress(PolicyError):
                    self._call(
                        "test module removal",
                        partial(self._client.delete_policy, f"{TEST_PREFIX}/{module.path}"),
                    )
            with contextlib.suppress(PolicyError):
                self._call("examples removal", lambda: self._client.delete_data(EXAMPLES_ROOT))

    def _run_one(self, package: str, name: str) -> RegoTestResult:
        try:
            defined, value = self._query(package, name, {})
        except PolicyError as exc:
            return rego_test_result(package, name, False, None, error=exc.message)
        return rego_test_result(package, name, defined, value)


def decision_module(revision: str) -> str:
    """The generated module: the pack's violations beside the revision they come from."""
    return (
        f"package {DECISION_PACKAGE}\n\n"
        f"result := {{{json.dumps('revision')}: {json.dumps(revision)}, "
        '"violations": data.auditor.main.violations}\n'
    )


def _status(response: requests.Response | None) -> str:
    if response is None:
        return "an HTTP error"
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    text = f"HTTP {response.status_code}"
    if code:
        text += f" {code}"
    if message:
        text += f": {str(message)[:MESSAGE_MAX]}"
    return text


def _client_error(exc: Exception) -> str:
    """opa_client's errors: (expression, message[, errors]); OPA's own parse errors first."""
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        location = first.get("location") or {}
        where = f"{location.get('row', '?')}:{location.get('col', '?')}: " if location else ""
        return f"{where}{str(first.get('message', ''))[:MESSAGE_MAX]}"
    message = getattr(exc, "message", None)
    if message:
        return str(message)[:MESSAGE_MAX]
    return type(exc).__name__
