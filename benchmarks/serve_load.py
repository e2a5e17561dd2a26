"""Latency and throughput of `auditor serve` over 100,000 findings.

    .venv/bin/python benchmarks/serve_load.py [--findings N] [--requests N] [--concurrency N]

Builds a fresh SQLite database (migrated) with a directory of 5,000 people in a five-level
reporting tree and N findings (100,000 by default) spread over them, starts the real
`auditor serve` in a child process on a free localhost port, signs in as a department head
(a line of about 1,000 people) and as a compliance reviewer (everything), and sends
--requests requests to each endpoint from --concurrency threads: the queue page, a filtered
queue page, a finding's page, and the API's queue and finding. Prints p50/p95 latency and
requests per second for each, and the server's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from argon2 import PasswordHasher
from sqlalchemy import insert

from auditor.db.models import Account, Finding, Interaction, Person
from auditor.db.session import make_engine, session_scope, upgrade
from auditor.serve.accounts import issue_api_token

PASSWORD = "benchmark password 0123"
SEVERITIES = ("critical", "high", "medium", "low")
TOOLS = ("chatgpt-enterprise", "copilot", "claude-enterprise", "internal-llm", "consumer-chat")


def build(db: Path, findings: int) -> tuple[str, str]:
    """The database; returns the department head's person id and a finding id in their line."""
    rng = random.Random(7)
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    now = datetime(2026, 11, 1)
    people = []
    # 1 head of the firm, 5 department heads, 25 managers under each, then staff.
    people.append(("p0", None, "Executive"))
    heads = [f"p{i}" for i in range(1, 6)]
    people += [(h, "p0", f"Dept {i}") for i, h in enumerate(heads, 1)]
    managers = []
    for i, h in enumerate(heads):
        for j in range(25):
            m = f"p{100 + i * 25 + j}"
            managers.append((m, h, f"Dept {i + 1}"))
    people += managers
    n = 1000
    while len(people) < 5000:
        boss, _, dept = managers[n % len(managers)]
        people.append((f"p{n}", boss, dept))
        n += 1
    staff = [p for p in people if p[0] not in {"p0", *heads}]
    with session_scope(engine) as s:
        s.execute(
            insert(Person),
            [
                {
                    "user_id": uid,
                    "email": f"{uid}@bank.example",
                    "name": f"Person {uid}",
                    "department": dept,
                    "manager_id": boss,
                    "region": "UK",
                    "attributes": {},
                    "loaded_at": now,
                }
                for uid, boss, dept in people
            ],
        )
        interactions = []
        for k in range(findings):
            uid = staff[rng.randrange(len(staff))][0]
            interactions.append(
                {
                    "id": k + 1,
                    "event_id": f"e{k}",
                    "source_format": "bench",
                    "occurred_at": datetime(2026, 10, 1) + timedelta(minutes=rng.randrange(44640)),
                    "user_id": uid,
                    "tool": TOOLS[rng.randrange(len(TOOLS))],
                    "history_turns": 0,
                    "content_status": "present",
                    "attributes": {},
                }
            )
        s.execute(insert(Interaction), interactions)
        s.execute(
            insert(Finding),
            [
                {
                    "id": f"{k:032x}",
                    "interaction_id": k + 1,
                    "rule_id": f"rule-{k % 15}",
                    "entity_type": "PERSON",
                    "value_hash": "",
                    "severity": SEVERITIES[rng.randrange(4)],
                    "title": "A finding",
                    "message": "m",
                    "masked_excerpt": "… sent [PERSON] the file …",
                    "status": "open",
                    "first_seen": now,
                    "last_seen": now,
                }
                for k in range(findings)
            ],
        )
        hasher = PasswordHasher()
        for name, role, person in (("head", "manager", "p1"), ("rev", "reviewer", None)):
            s.add(
                Account(
                    username=name,
                    role=role,
                    person_id=person,
                    password_hash=hasher.hash(PASSWORD),
                    disabled=False,
                    created_at=now,
                )
            )
    line_finding = next(
        f"{k:032x}" for k, i in enumerate(interactions) if i["user_id"] in _line(people, "p1")
    )
    engine.dispose()
    return "p1", line_finding


def _line(people: list[tuple[str, str | None, str]], boss: str) -> set[str]:
    children: dict[str, list[str]] = {}
    for uid, mid, _ in people:
        if mid:
            children.setdefault(mid, []).append(uid)
    out, stack = set(), list(children.get(boss, []))
    while stack:
        u = stack.pop()
        if u not in out:
            out.add(u)
            stack.extend(children.get(u, []))
    return out


def request(
    port: int, path: str, headers: dict[str, str], body: str | None = None
) -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST" if body is not None else "GET", path, body=body, headers=headers)
    resp = conn.getresponse()
    text = resp.read().decode()
    got = {k.lower(): v for k, v in resp.getheaders()}
    # Every cookie set, as "name=value; ..." (the sign-in also clears its form's cookie).
    cookies = [c.split(";", 1)[0] for c in resp.msg.get_all("set-cookie") or []]
    got["set-cookie"] = "; ".join(c for c in cookies if not c.endswith("="))
    conn.close()
    return resp.status, text, got


def sign_in(port: int, username: str) -> str:
    status, page, headers = request(port, "/login", {})
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    login_cookie = headers["set-cookie"]
    status, _, headers = request(
        port,
        "/login",
        {"Cookie": login_cookie, "Content-Type": "application/x-www-form-urlencoded"},
        urlencode({"username": username, "password": PASSWORD, "csrf_token": token}),
    )
    assert status == 303, status
    return str(headers["set-cookie"])


def load(
    port: int, path: str, headers: dict[str, str], total: int, threads: int
) -> dict[str, float]:
    times: list[float] = []
    lock = threading.Lock()
    left = [total]
    failures = [0]

    def worker() -> None:
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            t = time.perf_counter()
            status, _, _ = request(port, path, headers)
            elapsed = time.perf_counter() - t
            with lock:
                times.append(elapsed)
                if status != 200:
                    failures[0] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    wall = time.perf_counter() - started
    times.sort()
    return {
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
        "rps": total / wall,
        "failures": failures[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t = time.perf_counter()
        _, fid = build(db, args.findings)
        engine = make_engine(f"sqlite:///{db}")
        with session_scope(engine) as s:
            token = issue_api_token(s, "rev")
        engine.dispose()
        print(f"built {args.findings:,} findings in {time.perf_counter() - t:.0f} s")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {
            **os.environ,
            "AUDITOR_DATABASE__URL": f"sqlite:///{db}",
            "AUDITOR_DATA_DIR": str(Path(tmp) / ".auditor"),
            "AUDITOR_SCAN__HASH_KEY": "benchmark-key-padded-to-thirty-two-bytes",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "auditor", "serve", "--port", str(port), "--insecure-http"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            head = {"Cookie": sign_in(port, "head")}
            rev = {"Cookie": sign_in(port, "rev")}
            api = {"Authorization": f"Bearer {token}"}
            _, page, _ = request(port, "/findings", head)
            shown = re.search(r"([\d,]+) findings? · page", page)
            print(f"department head's queue: {shown.group(1) if shown else '?'} findings")
            cases = [
                ("queue page, department head (line of ~1,000)", "/findings", head),
                ("queue page, reviewer (all)", "/findings", rev),
                (
                    "filtered queue, reviewer",
                    "/findings?severity=high&tool=copilot&sort=newest",
                    rev,
                ),
                ("finding page, reviewer", f"/findings/{fid}", rev),
                ("API queue (50), token", "/api/v1/findings?limit=50", api),
                ("API finding, token", f"/api/v1/findings/{fid}", api),
            ]
            print(f"{args.requests} requests each, {args.concurrency} at a time")
            for name, path, headers in cases:
                r = load(port, path, headers, args.requests, args.concurrency)
                print(
                    f"  {name:<48} p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  "
                    f"{r['rps']:6.1f} req/s  failures {r['failures']:.0f}"
                )
            status = Path(f"/proc/{server.pid}/status").read_text()
            hwm = re.search(r"VmHWM:\s+(\d+) kB", status)
            if hwm:
                print(f"server peak RSS: {int(hwm.group(1)) / 1024:.0f} MiB")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
