"""Secrets and credentials in prompts: API keys with a known shape, private keys, and the
password part of connection strings and `password=` settings, reported as CREDENTIAL.

Each rule is a regular expression and the group that is the secret (so a connection string's
host stays readable in an excerpt, its password does not), like detect-secrets' plugins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


@dataclass(frozen=True)
class SecretRule:
    name: str
    regex: re.Pattern[str]
    group: int
    score: float


def _rule(name: str, pattern: str, score: float, group: int = 0) -> SecretRule:
    return SecretRule(name, re.compile(pattern), group, score)


RULES: tuple[SecretRule, ...] = (
    _rule("AWS access key id", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z2-7]{16}\b", 0.9),
    _rule("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b", 0.95),
    _rule("GitHub fine-grained token", r"\bgithub_pat_[A-Za-z0-9_]{60,255}\b", 0.95),
    _rule("Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,250}", 0.9),
    _rule("Stripe secret key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,250}\b", 0.9),
    _rule("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b", 0.9),
    _rule("OpenAI / Anthropic key", r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{32,250}", 0.9),
    _rule(
        "JSON web token",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        0.85,
    ),
    _rule(
        "private key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"[\s\S]{0,20000}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        0.95,
    ),
    # scheme://user:password@host — the password only.
    _rule(
        "connection string password",
        r"\b[a-z][a-z0-9+.-]{1,30}://[^\s:/@]{1,128}:([^\s@/]{3,256})@[\w.-]",
        0.9,
        group=1,
    ),
    # password=..., pwd: ..., "secret": "..." — the value only.
    _rule(
        "password setting",
        r"(?i:\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret)"
        r"\b[\"']?\s*[:=]\s*)[\"']?([^\s\"';,]{6,256})",
        0.7,
        group=1,
    ),
)


class CredentialRecognizer(EntityRecognizer):
    """Finds API keys, tokens, private keys and passwords (RULES) as CREDENTIAL."""

    def __init__(self, supported_language: str = "en", **kwargs: object) -> None:
        super().__init__(
            supported_entities=["CREDENTIAL"],
            name="CredentialRecognizer",
            supported_language=supported_language,
        )

    @property
    def rules(self) -> tuple[SecretRule, ...]:
        return RULES

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if "CREDENTIAL" not in entities:
            return []
        results = []
        for rule in RULES:
            for m in rule.regex.finditer(text):
                start, end = m.span(rule.group)
                if end <= start or _placeholder(text[start:end]):
                    continue
                results.append(
                    RecognizerResult(
                        "CREDENTIAL",
                        start,
                        end,
                        rule.score,
                        recognition_metadata={
                            RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                        },
                    )
                )
        return results


_PLACEHOLDER = re.compile(
    r"^(?:\*+|x+|\.+|<[^>]*>|\$\{?[\w.]+\}?|%\(?\w+\)?s?|\{\{?[\w.]+\}\}?|changeme|password|"
    r"your[_-]?\w*|redacted|null|none|true|false|\[?redacted\]?)$",
    re.IGNORECASE,
)


def _placeholder(value: str) -> bool:
    """Whether a password value is a placeholder or a variable, not a secret."""
    return bool(_PLACEHOLDER.match(value.strip("\"'")))


__all__ = ["RULES", "CredentialRecognizer", "SecretRule"]
