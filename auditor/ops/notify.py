"""`auditor notify`: one e-mail to each manager with open findings in their reporting line.

An e-mail holds the period, counts by severity and a link to the manager's queue in `auditor
serve` — never an excerpt, a detected value, a name or a finding id: mail leaves the audit
system and is kept and forwarded where nobody controls it. Sent through the firm's relay with
STARTTLS (the certificate checked) before the login and the first message.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from auditor.config import NotifySettings
from auditor.db.models import Person
from auditor.directory import reporting_line
from auditor.errors import AuditorError, ConfigError
from auditor.review import SEVERITIES, QueueFilter, Scope, severity_counts


@dataclass(frozen=True)
class Notice:
    manager_id: str
    email: str | None
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def notices(session: Session, period: str) -> list[Notice]:
    """Every manager (anyone someone reports to) with open findings of the period in their
    reporting line, direct and indirect, never their own; by manager id."""
    flt = QueueFilter(period=period, status="open")
    flt.check()
    managers = sorted({m for m in session.scalars(select(Person.manager_id).distinct()) if m})
    out = []
    for manager_id in managers:
        line = frozenset(reporting_line(session, manager_id))
        counts = severity_counts(session, Scope(line, frozenset({manager_id})), flt)
        if sum(counts.values()):
            person = session.get(Person, manager_id)
            out.append(Notice(manager_id, person.email if person else None, counts))
    return out


def compose(notice: Notice, period: str, settings: NotifySettings) -> EmailMessage:
    """The e-mail for one manager: counts and a link, nothing else."""
    assert notice.email is not None
    link = (
        settings.review_url.rstrip("/")
        + "/findings?"
        + urlencode({"period": period, "status": "open"})
    )
    lines = [
        f"Findings about AI use in your team await your review ({period}).",
        "",
        *(f"  {sev:<9} {notice.counts[sev]}" for sev in SEVERITIES if notice.counts[sev]),
        f"  {'total':<9} {notice.total}",
        "",
        f"Review them, signed in: {link}",
        "",
        "This message holds counts only; the evidence stays in the review application.",
    ]
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = notice.email
    msg["Subject"] = f"AI usage review: {notice.total} open finding(s) in your team, {period}"
    msg.set_content("\n".join(lines))
    return msg


def send(messages: list[EmailMessage], settings: NotifySettings) -> None:
    """Send through the configured relay, STARTTLS first. Raises ConfigError without a
    relay, AuditorError when the relay refuses (naming the step, never a message's text)."""
    if not settings.smtp_host:
        raise ConfigError("notify.smtp_host is not set", "name the firm's mail relay")
    if settings.username and not settings.starttls:
        raise ConfigError(
            "notify.username is set but notify.starttls is off: the password would cross the "
            "network in clear",
            "turn notify.starttls on",
        )
    step = "connecting"
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.timeout_seconds
        ) as smtp:
            step = "EHLO"
            smtp.ehlo()
            if settings.starttls:
                step = "STARTTLS"
                context = ssl.create_default_context(
                    cafile=str(settings.ca_file) if settings.ca_file else None
                )
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.username:
                step = "login"
                password = settings.password.get_secret_value() if settings.password else ""
                smtp.login(settings.username, password)
            for n, msg in enumerate(messages, 1):
                step = f"sending message {n} of {len(messages)}"
                smtp.send_message(msg)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise AuditorError(
            f"the mail relay {settings.smtp_host}:{settings.smtp_port} failed at {step}: "
            f"{type(exc).__name__}",
            "check notify.smtp_host, the port, STARTTLS and the credentials",
        ) from None
