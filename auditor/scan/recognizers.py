"""Our own recognizers. They register through conf/recognizers.yaml like presidio's built-ins.

A class named in that file is looked up among the imported subclasses of presidio's
`EntityRecognizer`, so this module must be imported before the registry is built (engine.py
does so).
"""

from __future__ import annotations

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

# Top-level domains missing from the Public Suffix List under which mail addresses still name
# people: private-use names common on bank intranets, and the names reserved for examples and
# tests (RFC 2606, RFC 6762), which synthetic and documentation data use.
EXTRA_EMAIL_SUFFIXES = ("internal", "intranet", "corp", "lan", "local", "example", "test")

# tldextract's module-level extractor fetches the Public Suffix List over HTTP on first use and
# caches it under $HOME. Banks run air-gapped, so ours reads only the snapshot bundled with the
# package: no URLs to try, no disk cache to write.
OFFLINE_TLD_EXTRACT = tldextract.TLDExtract(
    cache_dir=None,
    suffix_list_urls=(),
    fallback_to_snapshot=True,
    extra_suffixes=EXTRA_EMAIL_SUFFIXES,
)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, validating the domain against the bundled suffix list."""

    EXTRA_SUFFIXES = EXTRA_EMAIL_SUFFIXES

    def validate_result(self, pattern_text: str) -> bool:
        return OFFLINE_TLD_EXTRACT(pattern_text).fqdn != ""
