"""`auditor notify` against a real SMTP server (aiosmtpd) on localhost that requires
STARTTLS and a login: one e-mail per manager with open findings in their line, counts and a
link only."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from sqlalchemy import Engine

from auditor.cli import main
from auditor.config import NotifySettings, Settings
from auditor.db.session import session_scope
from auditor.errors import AuditorError, ConfigError
from auditor.ops.notify import compose, notices, send
from auditor.review import EVERYONE, record_disposition
from tests.serve.conftest import finding_of

USER, PASSWORD = "auditor-relay", "relay password for tests"


def _certificate(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "relay.pem", tmp / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = data.login.decode() == USER and data.password.decode() == PASSWORD
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


@pytest.fixture
def relay(tmp_path: Path, loopback: list[str]) -> Iterator[tuple[Inbox, NotifySettings]]:
    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=inbox.authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield (
            inbox,
            NotifySettings(
                smtp_host="127.0.0.1",
                smtp_port=port,
                ca_file=cert,
                username=USER,
                password=PASSWORD,
                sender="auditor@northbridge-bank.example",
                review_url="https://auditor.northbridge-bank.example/",
                # smtplib tries a second mechanism after a refused login, which this relay
                # leaves waiting: a short time-out keeps that case quick.
                timeout_seconds=3,
            ),
        )
    finally:
        controller.stop()


def test_each_manager_gets_counts_and_a_link_only(
    bank: Engine, relay: tuple[Inbox, NotifySettings]
) -> None:
    inbox, settings = relay
    with session_scope(bank) as s:
        record_disposition(
            s, EVERYONE, finding_of("u00001"), "confirmed", "real", actor="rita", role="reviewer"
        )
        found = notices(s, "2026-10")
    # Managers: u00010 (Markets: u00001, u00002), u00011 (u00003), u00012 (u00004), u00099
    # (everyone under them); two findings a person, one of them closed above.
    assert {n.manager_id: n.total for n in found} == {
        "u00010": 3,
        "u00011": 2,
        "u00012": 2,
        "u00099": 9,
    }
    send([compose(n, "2026-10", settings) for n in found], settings)
    assert inbox.logins == [USER]
    assert sorted(r[0] for r, _ in inbox.messages) == [
        "u00010@northbridge-bank.example",
        "u00011@northbridge-bank.example",
        "u00012@northbridge-bank.example",
        "u00099@northbridge-bank.example",
    ]
    for rcpt, raw in inbox.messages:
        msg = message_from_bytes(raw)
        body = msg.get_payload(decode=True).decode()
        assert msg["From"] == "auditor@northbridge-bank.example"
        assert (
            "https://auditor.northbridge-bank.example/findings?period=2026-10&status=open" in body
        )
        for leak in ("<script>", "[PERSON]", "f-u000", "Ann Lee", "Bo Chen", "Ed Fox", "rule-high"):
            assert leak not in body and leak not in msg["Subject"]
        if rcpt == ["u00010@northbridge-bank.example"]:
            assert "high      1" in body and "low       2" in body and "total     3" in body
            assert msg["Subject"] == "AI usage review: 3 open finding(s) in your team, 2026-10"


@pytest.mark.parametrize(
    ("change", "step"),
    [
        ({"password": SecretStr("wrong")}, "login"),
        ({"ca_file": None}, "STARTTLS"),  # the self-signed certificate is not trusted
        ({"starttls": False, "username": None}, "sending message 1"),  # the relay insists on TLS
    ],
    ids=["bad-password", "untrusted-certificate", "no-starttls"],
)
def test_relay_failures_name_the_step(
    bank: Engine, relay: tuple[Inbox, NotifySettings], change: dict[str, Any], step: str
) -> None:
    inbox, settings = relay
    with session_scope(bank) as s:
        found = notices(s, "2026-10")
    bad = settings.model_copy(update=change)
    with pytest.raises(AuditorError, match=f"failed at {step}") as info:
        send([compose(n, "2026-10", bad) for n in found], bad)
    assert PASSWORD not in str(info.value) and "wrong" not in str(info.value)
    assert inbox.messages == []


def test_a_password_is_never_sent_without_starttls() -> None:
    with pytest.raises(ConfigError, match="in clear"):
        send([], NotifySettings(smtp_host="127.0.0.1", username=USER, starttls=False))
    with pytest.raises(ConfigError, match="smtp_host"):
        send([], NotifySettings())


def test_notify_command(
    settings: Settings,
    bank: Engine,
    relay: tuple[Inbox, NotifySettings],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inbox, notify = relay
    monkeypatch.setenv("AUDITOR_DATABASE__URL", settings.database.url)
    monkeypatch.setenv("AUDITOR_SCAN__HASH_KEY", "test-key-not-secret-padded-to-32-bytes")
    monkeypatch.setenv("AUDITOR_NOTIFY__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AUDITOR_NOTIFY__SMTP_PORT", str(notify.smtp_port))
    monkeypatch.setenv("AUDITOR_NOTIFY__CA_FILE", str(notify.ca_file))
    monkeypatch.setenv("AUDITOR_NOTIFY__USERNAME", USER)
    monkeypatch.setenv("AUDITOR_NOTIFY__PASSWORD", PASSWORD)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["notify", "--period", "2026-10", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would send 4 e-mail(s)" in out and "P-" in out and "@" not in out
    assert inbox.messages == []
    assert main(["notify", "--period", "2026-10"]) == 0
    assert "sent 4 e-mail(s)" in capsys.readouterr().out
    assert len(inbox.messages) == 4
