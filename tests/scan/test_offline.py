"""The scanner never reaches for the network: air-gapped banks run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from auditor.config import ScanSettings
from auditor.scan.engine import build_analyzer
from auditor.scan.recognizers import OfflineEmailRecognizer

# Runs in a fresh process so that nothing (spaCy model, suffix list) is loaded beforehand.
PROBE = r"""
import json, socket

attempts = []

def refuse(*args, **kwargs):
    attempts.append(repr(args[:2]))
    raise OSError("network blocked by the test")

real_connect = socket.socket.connect

def guarded_connect(self, address):
    if self.family == socket.AF_UNIX:
        return real_connect(self, address)
    return refuse(address)

socket.socket.connect = guarded_connect
socket.socket.connect_ex = guarded_connect
socket.create_connection = refuse
socket.getaddrinfo = refuse

from auditor.config import ScanSettings
from auditor.scan.engine import build_scanner

scanner = build_scanner(ScanSettings(), b"offline-test-key")
text = ("Mail john.smith@example.com, see https://www.example.com/docs, "
        "phone: 202-456-1111, card 4111 1111 1111 1111.")
found = sorted({h.entity_type for h in scanner.scan(text)})
ours = list(attempts)

# Control: tldextract's default extractor does try to fetch the suffix list, so the guard
# above would have caught the scanner doing the same.
import tldextract
try:
    tldextract.TLDExtract(cache_dir=None)("john.smith@example.com")
except Exception:
    pass
print(json.dumps({"found": found, "ours": ours, "control": attempts[len(ours):]}))
"""


def test_scanner_builds_and_scans_with_the_network_blocked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env.pop("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", None)
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result["found"]) >= {"EMAIL_ADDRESS", "URL", "PHONE_NUMBER", "CREDIT_CARD"}
    assert result["ours"] == []
    assert result["control"] != []
    assert not (tmp_path / "cache" / "python-tldextract").exists()


def test_email_recognizer_is_the_offline_one() -> None:
    # The stock EmailRecognizer calls tldextract's downloading extractor.
    registry = build_analyzer(ScanSettings()).registry
    email = [r for r in registry.recognizers if "EMAIL_ADDRESS" in r.supported_entities]
    assert email
    assert all(type(r) is OfflineEmailRecognizer for r in email)
