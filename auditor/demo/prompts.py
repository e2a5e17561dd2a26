"""Prompt and reply templates per workflow: what Northbridge Bank's staff ask their AI tools.

Most templates are clean; some plant client or staff data (names, contact details, cards,
SSNs, IBANs, account numbers, addresses, IPs); a few carry HTML, script or template syntax so
that the report's escaping is exercised. Slots are `<<name>>` (see `content.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.demo.content import SENSITIVE_SLOTS, slot_names
from auditor.demo.phrases import MACROS

OPS_WEALTH = ("Operations", "Wealth")


@dataclass(frozen=True, slots=True)
class Template:
    """A prompt and the replies an assistant might give to it."""

    workflows: tuple[str, ...]
    prompt: str
    outputs: tuple[str, ...]
    departments: tuple[str, ...] | None = None  # None: anyone
    regions: tuple[str, ...] | None = None
    markup: bool = False  # carries HTML, script or template syntax
    wrap: bool = True  # may get a conversational prefix or suffix

    @property
    def planted(self) -> set[str]:
        """Sensitive slots the prompt can contain."""
        return slot_names([self.prompt], MACROS) & set(SENSITIVE_SLOTS)

    def fits(self, workflow: str, department: str, region: str) -> bool:
        return (
            workflow in self.workflows
            and (self.departments is None or department in self.departments)
            and (self.regions is None or region in self.regions)
        )


def T(
    workflows: str | tuple[str, ...],
    prompt: str,
    *outputs: str,
    departments: tuple[str, ...] | None = None,
    regions: tuple[str, ...] | None = None,
    markup: bool = False,
    wrap: bool = True,
) -> Template:
    wf = (workflows,) if isinstance(workflows, str) else workflows
    return Template(wf, prompt, outputs, departments, regions, markup, wrap)


PREFIXES = (
    "Quick one: ",
    "Hi! ",
    "Please help: ",
    "Can you help me with this? ",
    "I need this for a meeting in 20 minutes. ",
    "hey, ",
    "Morning. ",
)
SUFFIXES = (
    " Thanks!",
    " Keep it concise.",
    " Use bullet points where it helps.",
    " Please keep it under 200 words.",
    " British English please.",
    " Thank you",
    " No need for a preamble.",
)

# -- coding ---------------------------------------------------------------------------------

CODING = [
    T("coding", "<<dev_q>>", "<<dev_a>>"),
    T("coding", "<<dev_q>>", "<<dev_a>>", wrap=False),
    T(
        "coding",
        "Deployment of <<service>> failed again last night. Full log below — what's the root "
        "cause and what should we fix first?\n\n```\n<<deploy_log>>\n```",
        "Root cause: the service can't load its configuration because the TLS handshake to "
        "the config service fails with an **expired certificate**. Everything else follows "
        "from that: the app exits after five attempts, the readiness probe returns 503, the "
        "container restarts in back-off, Helm times out and the atomic upgrade rolls "
        "back.\n\nFix first: renew the config service certificate (or the CA bundle the "
        "client trusts), then redeploy. Add an alert on certificate expiry 30 days ahead so "
        "this doesn't recur.",
        departments=("Technology",),
    ),
    T(
        "coding",
        "Write a Python function that validates an IBAN's check digits (mod 97). No external "
        "libraries.",
        "```python\ndef iban_is_valid(iban: str) -> bool:\n    s = iban.replace(' ', '')."
        "upper()\n    if not s.isalnum() or len(s) < 15 or len(s) > 34:\n        return False\n"
        "    rearranged = s[4:] + s[:4]\n    digits = ''.join(str(int(ch, 36)) for ch in "
        "rearranged)\n    return int(digits) % 97 == 1\n```\n\n`int(ch, 36)` maps A→10 ... "
        "Z→35. This checks the checksum only, not the country-specific length.",
    ),
    T(
        "coding",
        "Explain this regex: ^(?=.*\\d)(?=.*[A-Z])(?=.*[^\\w\\s]).{12,}$",
        "It matches strings of at least 12 characters that contain at least one digit "
        "(`(?=.*\\d)`), one uppercase letter (`(?=.*[A-Z])`) and one symbol — a character "
        "that is neither a word character nor whitespace (`(?=.*[^\\w\\s])`). The lookaheads "
        "check without consuming, then `.{12,}` enforces the length. A typical password rule.",
    ),
    T(
        "coding",
        "This pandas loop is slow on 3m rows, can you vectorise it?\n\n```python\n"
        "for i, row in df.iterrows():\n    if row['side'] == 'SELL':\n"
        "        df.at[i, 'signed_qty'] = -row['qty']\n    else:\n"
        "        df.at[i, 'signed_qty'] = row['qty']\n```",
        "```python\nimport numpy as np\n\ndf['signed_qty'] = np.where(df['side'].eq('SELL'), "
        "-df['qty'], df['qty'])\n```\n\nThis runs in milliseconds instead of minutes because "
        "it works on whole columns rather than row by row.",
    ),
    T(
        "coding",
        "Write a Postgres query that returns the top 10 desks by total notional traded in the "
        "last 30 days from `trades` (trade_id, desk, notional_usd, trade_date, status). Exclude "
        "cancelled trades.",
        "```sql\nSELECT desk,\n       SUM(notional_usd) AS total_notional\nFROM trades\n"
        "WHERE trade_date >= CURRENT_DATE - INTERVAL '30 days'\n"
        "  AND status <> 'CANCELLED'\nGROUP BY desk\nORDER BY total_notional DESC\nLIMIT 10;\n"
        "```\n\nAn index on `(trade_date, status)` helps if the table is large. If `status` can "
        "be NULL, use `status IS DISTINCT FROM 'CANCELLED'`, otherwise NULL rows are dropped.",
    ),
    T(
        "coding",
        "SQL: find customers with more than 3 failed card authorisations in any rolling 24h "
        "window. Table card_auths(auth_id, customer_id, ts, result). Postgres.",
        "```sql\nSELECT DISTINCT customer_id\nFROM (\n  SELECT customer_id,\n"
        "         COUNT(*) FILTER (WHERE result = 'DECLINED') OVER (\n"
        "           PARTITION BY customer_id ORDER BY ts\n"
        "           RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW\n"
        "         ) AS fails_24h\n  FROM card_auths\n) w\nWHERE fails_24h > 3;\n```\n\n"
        "`RANGE` with an interval gives a true time window rather than a fixed number of rows.",
    ),
    T(
        "coding",
        "Write SQL listing reconciliation breaks older than 5 business days from recon_breaks "
        "(break_id, account, amount, opened_on, status, owner), grouped by owner with count and "
        "total amount. We have a calendar table business_days(d).",
        "```sql\nSELECT b.owner,\n       COUNT(*)      AS breaks,\n"
        "       SUM(b.amount) AS total_amount\nFROM recon_breaks b\nWHERE b.status = 'OPEN'\n"
        "  AND (SELECT COUNT(*) FROM business_days d\n"
        "       WHERE d.d > b.opened_on AND d.d <= CURRENT_DATE) > 5\nGROUP BY b.owner\n"
        "ORDER BY total_amount DESC;\n```\n\nThe correlated subquery counts business days "
        "since the break opened; for large tables pre-compute a business-day index instead.",
    ),
    T(
        "coding",
        "month-end balance per account from ledger_entries(account_id, posted_at, amount) — "
        "window function please, snowflake",
        "```sql\nSELECT account_id,\n       LAST_DAY(posted_at::date) AS month_end,\n"
        "       SUM(SUM(amount)) OVER (PARTITION BY account_id\n"
        "                              ORDER BY LAST_DAY(posted_at::date)) AS balance\n"
        "FROM ledger_entries\nGROUP BY account_id, LAST_DAY(posted_at::date)\n"
        "ORDER BY account_id, month_end;\n```\n\nThe inner `SUM` totals each month; the "
        "window `SUM` accumulates them into a running balance. Months without entries won't "
        "appear — join to a month spine if you need every month.",
    ),
    T(
        "coding",
        "How do I dedupe the clients table keeping the most recently updated row per tax_id? "
        "Postgres, it's about 2m rows.",
        "```sql\nDELETE FROM clients c\nUSING (\n  SELECT id,\n"
        "         ROW_NUMBER() OVER (PARTITION BY tax_id ORDER BY updated_at DESC, id DESC) AS rn\n"
        "  FROM clients\n) d\nWHERE c.id = d.id AND d.rn > 1;\n```\n\nRun it in a transaction "
        "and check the count first with the `SELECT` on its own. Then add a unique index on "
        "`tax_id` so duplicates can't come back.",
    ),
    T(
        "coding",
        "Explain this error and how to fix it:\n\n```\n<<py_traceback>>\n```",
        "The traceback ends in the line that actually failed, so read it bottom-up.\n\n"
        "**What happened:** the value your code expects isn't what arrives at runtime — a column "
        "is missing, a field is `None`, or a string slipped into a numeric sum.\n\n"
        "**How to fix it:**\n1. Check the input right before the failing line (log `df.columns` "
        "or the row's fields).\n2. Validate at the boundary: reject or default missing values "
        "when you load the file, not deep in the logic.\n3. For money, use `Decimal` built from "
        "strings, never from floats, and quantize explicitly.\n\nIf you share the function that "
        "builds the input I can point at the exact line.",
        "This is a data issue rather than a code bug. The upstream file changed shape (a column "
        "was renamed or a value is empty). Add a schema check when loading — for example "
        "`missing = {'ccy', 'notional'} - set(df.columns)` and raise a clear error if "
        "`missing` is not empty — so the job fails early with a message ops can act on.",
    ),
    T(
        "coding",
        "Write pytest unit tests for this function. Cover the edge cases.\n\n```python\n"
        "<<py_function>>\n```",
        "```python\nimport pytest\nfrom decimal import Decimal\n\n\n@pytest.mark.parametrize(\n"
        '    "value, expected",\n    [\n        (Decimal("0"), Decimal("0.00")),\n'
        '        (Decimal("1000000"), Decimal("10000.00")),\n'
        '        (Decimal("1000001"), Decimal("10000.01")),\n'
        '        (Decimal("5000000"), Decimal("40000.00")),\n'
        '        (Decimal("6000000"), Decimal("45000.00")),\n    ],\n)\n'
        "def test_known_values(value, expected):\n    assert tiered_fee(value) == expected\n"
        "```\n\nThe boundary cases (exactly at each band edge, and one cent over) are where "
        "tiered calculations usually break. Consider a property test with Hypothesis that the "
        "fee never decreases as the balance grows.",
        "Here are tests using parametrize, including empty input, a single element and the "
        "boundaries:\n\n```python\n@pytest.mark.parametrize('args, expected', [...])\n"
        "def test_cases(args, expected):\n    assert fn(*args) == expected\n```\n\nFill the "
        "table with the cases above; I'd also add one test for invalid input so the error "
        "message is pinned down.",
    ),
    T(
        "coding",
        "what's the difference between LEFT JOIN and LEFT OUTER JOIN in snowflake",
        "None — `LEFT JOIN` and `LEFT OUTER JOIN` are the same operation in Snowflake (and in "
        "standard SQL). `OUTER` is optional syntax.",
    ),
    T(
        "coding",
        "regex to validate an ISIN",
        "`^[A-Z]{2}[A-Z0-9]{9}[0-9]$`\n\nThat checks the shape (country code, 9 alphanumerics, "
        "check digit). It does not verify the check digit — for that convert letters to numbers "
        "(A=10 ... Z=35) and run the Luhn algorithm over the resulting digit string.",
    ),
    T(
        "coding",
        "Review this Terraform for security problems:\n\n```hcl\n<<terraform>>\n```",
        'Two serious issues:\n\n1. **Public bucket.** `acl = "public-read"` exposes every '
        "statement in the bucket. Remove the ACL, add `aws_s3_bucket_public_access_block` with "
        "all four flags true, and enable default encryption with a KMS key.\n2. **Database open "
        'to the internet.** `cidr_blocks = ["0.0.0.0/0"]` on port 5432 allows anyone to reach '
        "Postgres. Restrict ingress to the application security group via "
        "`source_security_group_id`.\n\nAlso consider versioning and access logging on the "
        "bucket.",
    ),
    T(
        "coding",
        "Write a GitHub Actions workflow that runs ruff and pytest on Python 3.11 and 3.12 for "
        "every pull request. Cache pip.",
        "```yaml\nname: ci\non:\n  pull_request:\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    strategy:\n      matrix:\n        python: ['3.11', '3.12']\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v5\n"
        "        with:\n          python-version: ${{ matrix.python }}\n          cache: pip\n"
        "      - run: pip install -e '.[test]'\n      - run: ruff check .\n"
        "      - run: pytest -q\n```",
    ),
    T(
        "coding",
        "How do I configure SQLAlchemy connection pooling for a Flask app behind gunicorn with 4 "
        "workers? We keep hitting 'too many connections' on Postgres.",
        "Each gunicorn worker is a separate process with its own pool, so the total is "
        "`workers × (pool_size + max_overflow)`. With the defaults (5 + 10) and 4 workers you "
        "can open 60 connections.\n\n```python\nengine = create_engine(url, pool_size=3, "
        "max_overflow=2, pool_pre_ping=True, pool_recycle=1800)\n```\n\nAlso make sure the "
        "engine is created after the fork (in an app factory), and consider PgBouncer in "
        "transaction mode if you scale out further.",
    ),
    T(
        "coding",
        "Refactor this to be more readable, keep behaviour identical:\n\n```python\n"
        "def f(x):\n    r=[]\n    for i in x:\n        if i['status']=='OPEN' and i['age']>5:\n"
        "            r.append((i['owner'],i['amount']))\n    d={}\n    for o,a in r:\n"
        "        d[o]=d.get(o,0)+a\n    return sorted(d.items(),key=lambda t:-t[1])\n```",
        "```python\nfrom collections import defaultdict\n\n\ndef aged_open_totals_by_owner("
        "breaks, min_age_days=5):\n    totals = defaultdict(int)\n    for b in breaks:\n"
        "        if b['status'] == 'OPEN' and b['age'] > min_age_days:\n"
        "            totals[b['owner']] += b['amount']\n    return sorted(totals.items(), "
        "key=lambda item: item[1], reverse=True)\n```\n\nSame result, one pass, and the name "
        "says what it returns. Note the sort is stable for ties, as before.",
    ),
    T(
        "coding",
        "Write a commit message for this change: moved retry logic for the card auth client into "
        "a decorator, added jitter, max 3 attempts, and fixed the timeout not being applied to "
        "the token call. Ticket <<jira>>.",
        "<<jira>>: Retry card auth calls with jittered backoff\n\n- Move retry logic into a "
        "reusable `@retry` decorator (max 3 attempts, exponential backoff with jitter)\n- Apply "
        "the configured timeout to the token request, which previously used none\n\nNo "
        "behaviour change on success paths.",
    ),
    T(
        "coding",
        "Convert this bash to Python please:\n\n```bash\nfor f in /data/in/*.csv; do\n"
        '  n=$(wc -l < "$f")\n  if [ "$n" -gt 1 ]; then mv "$f" /data/ready/; else '
        'mv "$f" /data/empty/; fi\ndone\n```',
        "```python\nfrom pathlib import Path\nimport shutil\n\nfor f in Path('/data/in')."
        "glob('*.csv'):\n    with f.open() as fh:\n        lines = sum(1 for _ in fh)\n"
        "    target = '/data/ready' if lines > 1 else '/data/empty'\n    shutil.move(str(f), "
        "target)\n```\n\nThis treats a header-only file as empty, like the original.",
    ),
    T(
        "coding",
        "Explain what this Kafka consumer config does and whether it's safe for payments: "
        "enable.auto.commit=true, auto.offset.reset=latest, max.poll.interval.ms=300000, "
        "isolation.level=read_uncommitted",
        "For payments this is risky:\n\n- `enable.auto.commit=true` commits offsets on a timer, "
        "so a crash after commit but before processing loses messages. Commit manually after "
        "processing.\n- `auto.offset.reset=latest` means a new consumer group skips anything "
        "already in the topic. Use `earliest` plus idempotent processing.\n- "
        "`read_uncommitted` lets you see messages from transactions that are later aborted. Use "
        "`read_committed` if producers are transactional.\n\n`max.poll.interval.ms` is fine if "
        "each batch is processed well within 5 minutes.",
    ),
    T(
        "coding",
        "Our pods keep restarting in <<namespace>>. Here are the logs, what's going on?\n\n"
        "<<pod_log>>",
        "The pattern points to an upstream dependency rather than your service itself: "
        "timeouts to the same peer, the circuit breaker opening, then readiness probes failing "
        "and the pod being restarted.\n\nThings to check:\n1. Is the upstream healthy? The "
        "timeouts are all to one address.\n2. Your readiness probe probably calls the "
        "dependency — make readiness reflect only the pod's own health, otherwise one slow "
        "dependency restarts everything.\n3. If you see OOMKilled, the retries may be "
        "buffering requests; cap the retry queue.",
        "Looks like a cascading failure: <<service>> can't reach a peer, retries pile up, memory "
        "grows and the container is killed. Fix the probe first (don't include downstream "
        "checks), then add a timeout budget so retries stop before the probe deadline.",
        departments=("Technology",),
    ),
    T(
        "coding",
        "Getting this when the job starts in UAT, any idea?\n\n<<py_traceback_ip>>",
        "The service can't reach its dependency at <<ip>>. Usual causes:\n\n1. The host or port "
        "is wrong for this environment — check the config is the UAT one.\n2. A firewall rule or "
        "security group doesn't allow traffic from this subnet.\n3. The dependency isn't "
        "running.\n\nTry `nc -vz <host> <port>` from the same pod or box. If it connects, the "
        "problem is credentials or TLS, not the network.",
        "This is a network-level failure (connection refused / timed out), not a bug in your "
        "code. Confirm the target is up and that this environment is allowed to reach it; also "
        "add a retry with backoff around the connect so a short blip doesn't kill the job.",
    ),
    T(
        "coding",
        "Can you explain this stack trace from the nightly batch?\n\n<<java_trace_ip>>",
        "The root cause is at the bottom (`Caused by`): the JDBC driver couldn't open a TCP "
        "connection to the database host. Hikari then fails to create a pool connection and the "
        "job aborts.\n\nCheck that the DB listener is up, that the batch host can reach it "
        "(firewall change?), and that the connection string points at the right node after any "
        "failover. Consider `connectionTimeout` and a retry in the job scheduler.",
    ),
    T(
        "coding",
        "We're getting 502s on the payments API. Here's an nginx excerpt:\n\n<<nginx_log>>\n\n"
        "Is it nginx or the app?",
        "It's the upstream app, not nginx. The requests take exactly ~30s (`rt=30.001`) and the "
        "error log says `upstream timed out ... while reading response header`, which means "
        "nginx connected to the app but the app didn't answer within `proxy_read_timeout` "
        "(default 60s, yours is 30s).\n\nLook at the app's latency around that time — a slow "
        "database query or a blocked worker pool is the usual suspect. Raising the timeout only "
        "hides it.",
        departments=("Technology",),
    ),
    T(
        "coding",
        "This JSON fixture fails our validation test and I can't see why:\n\n```json\n"
        '{"customer": {"name": "<<client_name>>", "ssn": "<<ssn>>", "email": "<<client_email>>",'
        ' "dob": "1984-13-02"}}\n```',
        "The date of birth is invalid: `1984-13-02` has month 13. If the format is "
        "`YYYY-MM-DD`, it should probably be `1984-12-02` or `1984-02-13`.\n\nSeparately — "
        "this looks like real customer data. Test fixtures should use synthetic values (e.g. "
        "Faker) rather than production records.",
        departments=("Technology", "Operations", "Risk"),
    ),
    T(
        "coding",
        "why does my luhn check return false for <<pan>>? code: "
        "`sum(int(d) for d in s[::2]) + sum(int(d)*2 for d in s[1::2]) % 10 == 0`",
        "Two bugs: operator precedence (`%` binds tighter than `+`, so you take the modulo of "
        "only the second sum) and the doubling (digits doubled to two digits must have their "
        "digits summed, i.e. subtract 9). Also the doubling starts from the rightmost digit's "
        "neighbour, so reverse the string first:\n\n```python\ndef luhn_ok(s):\n"
        "    digits = [int(c) for c in s if c.isdigit()][::-1]\n    total = sum(digits[0::2])\n"
        "    total += sum(d * 2 - 9 if d > 4 else d * 2 for d in digits[1::2])\n"
        "    return total % 10 == 0\n```",
        departments=("Technology", "Operations"),
    ),
    T(
        "coding",
        "Is this an SSTI risk? Our Jinja email template preview shows 49 when someone types "
        "`{{ 7*7 }}` in their display name. Template:\n\n```\n{% raw %}<p>Hello {{ user.name "
        "}}</p>{% endraw %}\n<p>Your statement for {{ month }} is ready.</p>\n```",
        "Yes — if the preview evaluates `{{ 7*7 }}` typed by a user, user input is being "
        "rendered as template source, which is server-side template injection. `{% raw %}` only "
        "stops rendering of the literal block in the template file; it does nothing for input "
        "that is concatenated into the template string.\n\nFix: never build templates from user "
        "input. Pass values as variables (`render(name=user.name)`), keep autoescape on, and use "
        "a `SandboxedEnvironment` for anything user-editable.",
        markup=True,
    ),
    T(
        "coding",
        "Pen test found reflected XSS on the search page. Payload was "
        "<script>alert(document.cookie)</script> in the q parameter. Our code: "
        "`return '<h2>Results for ' + q + '</h2>'`. How do we fix it properly?",
        "Escape output for the HTML context instead of concatenating raw input. With Flask/Jinja "
        "render a template (autoescape on) — `<h2>Results for {{ q }}</h2>` — so "
        "`<script>alert(1)</script>` becomes harmless text. Add a Content-Security-Policy "
        "without `unsafe-inline`, and mark the session cookie `HttpOnly` so scripts can't read "
        "it.",
        markup=True,
    ),
]

# -- client communication ---------------------------------------------------------------------

_EMAIL_CLOSE = "\n\nKind regards,\n[Your Name]"

CLIENT_COMM = [
    T(
        "client_comm",
        "Draft a short email to a client confirming <<topic_q>> on <<date>> at <<time>>. "
        "Friendly but professional.",
        "Subject: Confirming our meeting on <<date>>\n\nDear [Client Name],\n\nI'm writing "
        "to confirm <<topic_a>> on <<date>> at <<time>>. Please let me know if there is "
        "anything you would like us to cover.\n\n<<email_lines>>" + _EMAIL_CLOSE,
    ),
    T(
        "client_comm",
        "Rewrite this so a retail client can understand it:\n\n<<jargon_para>>",
        "Here's a plainer version:\n\n\"We made the portfolio a little less sensitive to "
        "interest-rate moves, kept a small extra holding in high-quality company bonds because "
        'they pay a steady income, and the stronger US dollar reduced returns slightly."',
        "In plain English: we reduced the risk from changing interest rates, held on to good "
        "quality bonds for their income, and lost a little because of currency moves.",
    ),
    T(
        "client_comm",
        "Write a 3 paragraph market update for clients about the Fed decision this week. No "
        "forecasts, no product recommendations.",
        "This week the Federal Reserve adjusted its policy rate by <<bps>> basis points, in line "
        "with expectations. Markets had largely priced in the move, and the reaction in equities "
        "and bonds was measured.\n\nFor savers, deposit rates tend to follow policy rates with a "
        "lag. For borrowers, variable-rate costs should ease gradually.\n\nAs always, we "
        "recommend focusing on your long-term plan rather than short-term moves. Your "
        "relationship manager is available to discuss what this means for you.",
    ),
    T(
        "client_comm",
        "Draft a polite reply to a client who's unhappy about a delay in a wire transfer. "
        "Apologise, explain that compliance checks can take up to 2 business days, don't promise "
        "a date.",
        "Dear [Client Name],\n\nThank you for your message, and I'm sorry for the frustration "
        "the delay has caused. Transfers of this kind are subject to standard compliance checks, "
        "which can take up to two business days to complete. I have asked the team to "
        "prioritise your payment and will let you know as soon as it has been released.\n\n"
        "Thank you for your patience." + _EMAIL_CLOSE,
    ),
    T(
        "client_comm",
        "Give me 5 subject lines for a client newsletter on year-end tax planning.",
        "1. Five things to review before year-end\n2. Make the most of your allowances this "
        "year\n3. Year-end tax planning: a short checklist\n4. Don't leave it to December 31st\n"
        "5. Planning ahead: year-end tax ideas for <<year>>",
    ),
    T(
        "client_comm",
        "Morning note for institutional clients: <<ticker>> printed <<quarter>> with revenue +"
        "<<pct>>% y/y, margins down <<pct_small>>pts, guide unchanged. Stock -3% pre-market. "
        "4-5 lines, neutral tone.",
        "<<ticker>> — <<quarter>> results: revenue +<<pct>>% y/y, ahead of consensus on price; "
        "margins -<<pct_small>>pts on input costs. FY guide unchanged, which the market reads as "
        "conservative given the beat. Shares -3% pre-market. We see the margin miss as "
        "transitory; focus on the H2 order commentary on the call.",
        departments=("Markets",),
    ),
    T(
        "client_comm",
        "Can you translate this into German for a client: 'Thank you for your patience. The "
        "documents have been received and your account opening is now being processed. We will "
        "contact you within three business days.'",
        "„Vielen Dank für Ihre Geduld. Die Unterlagen sind bei uns eingegangen und Ihre "
        "Kontoeröffnung wird nun bearbeitet. Wir werden uns innerhalb von drei Geschäftstagen "
        "bei Ihnen melden.“",
        regions=("EU", "UK"),
    ),
    T(
        "client_comm",
        "Bitte formuliere diese Nachricht an einen Kunden höflicher: 'Ihr Antrag ist "
        "unvollständig. Schicken Sie uns die fehlenden Unterlagen.'",
        "Vorschlag:\n\n„Vielen Dank für Ihren Antrag. Damit wir ihn zügig bearbeiten können, "
        "fehlen uns noch einige Unterlagen. Wären Sie so freundlich, uns diese bei Gelegenheit "
        "zukommen zu lassen? Für Rückfragen stehe ich Ihnen gern zur Verfügung.“",
        regions=("EU",),
    ),
    # -- with client data
    T(
        "client_comm",
        "Draft an email to <<client_name>> (<<client_email>>) confirming we received their "
        "instruction to move $<<amount_k>>k from the brokerage account to the joint account. "
        "Settles <<date>>.",
        "Subject: Confirmation of your transfer instruction\n\nDear <<client_first>>,\n\nThank "
        "you for your instruction. I confirm we have received your request to transfer "
        "$<<amount_k>>k from your brokerage account to your joint account. The transfer is "
        "expected to settle on <<date>>.\n\n<<email_lines>>" + _EMAIL_CLOSE,
        "Dear [Client Name],\n\nThis is to confirm receipt of your transfer instruction of "
        "$<<amount_k>>k, which we expect to settle on <<date>>. Please contact us immediately "
        "if you did not give this instruction." + _EMAIL_CLOSE,
        departments=("Wealth", "Markets", "Operations"),
    ),
    T(
        "client_comm",
        "Client <<client_name>>, phone <<client_phone>>, called upset that the portfolio is down "
        "<<pct>>% this quarter. Give me talking points for the callback.",
        "Talking points for the callback:\n\n<<call_prep>>\n\nKeep the call short and agree a "
        "follow-up meeting if they want to go deeper.",
        "Suggested structure:\n\n<<call_prep>>",
        departments=("Wealth",),
    ),
    T(
        "client_comm",
        "Write a letter to <<client_name>> at <<address>> asking them to update their beneficiary "
        "designation on the IRA, and enclose the form.",
        "<<client_name>>\n<<address>>\n\nDear <<client_first>>,\n\nAs part of our annual review "
        "we noticed that the beneficiary designation on your IRA may be out of date. Keeping it "
        "current ensures your assets pass according to your wishes. I have enclosed the form; "
        "please complete, sign and return it in the prepaid envelope." + _EMAIL_CLOSE,
        "Dear <<client_first>>,\n\nWe recommend reviewing the beneficiary designation on your "
        "IRA. Please find the update form enclosed." + _EMAIL_CLOSE,
        departments=("Wealth",),
    ),
    T(
        "client_comm",
        "Client <<client_name>> says their Platinum card <<pan>> was declined at a hotel "
        "abroad last night. Draft a reassuring reply explaining the travel notice process.",
        "Dear <<client_first>>,\n\nI'm sorry your card was declined during your stay. For your "
        "protection, transactions abroad can be paused when they don't match your usual "
        "pattern. I have confirmed with our card team that the block has been lifted. To avoid "
        "this in future, you can add a travel notice in the mobile app under Card settings → "
        "Travel.\n\nPlease let me know if you have any further trouble." + _EMAIL_CLOSE,
        "Dear [Client Name],\n\nApologies for the inconvenience with your card ending "
        "<<card_tail>>. The decline was a fraud-prevention check; it has now been cleared."
        + _EMAIL_CLOSE,
        departments=OPS_WEALTH,
    ),
    T(
        "client_comm",
        "Customer <<client_name>> disputes a $<<amount_small>> charge from <<merchant>> on card "
        "<<pan>>. Draft the acknowledgement letter with next steps and timelines (Reg E).",
        "Dear <<client_first>>,\n\nWe have received your dispute of $<<amount_small>> from "
        "<<merchant>>. We will investigate and aim to resolve it within 10 business days. If we "
        "need more time, we will provisionally credit your account while we complete the "
        "investigation, which can take up to 45 days. We will write to you with the outcome.\n\n"
        "You do not need to take any action at this stage." + _EMAIL_CLOSE,
        departments=OPS_WEALTH,
    ),
    T(
        "client_comm",
        "Please reply to <<client_name>> <<client_email>> confirming the wire to IBAN <<iban>> "
        "was released this morning and should arrive within one business day.",
        "Dear <<client_first>>,\n\nI'm pleased to confirm that your payment was released this "
        "morning. It should be credited to the beneficiary account within one business day.\n\n"
        "<<email_lines>>" + _EMAIL_CLOSE,
        departments=("Wealth", "Operations", "Markets"),
    ),
    T(
        "client_comm",
        "Reply to this client email, friendly, confirm we'll send the statements:\n\n---\nFrom: "
        "<<client_name>> <<<client_email>>>\nSubject: statements\n\nHi, can you send me the "
        "last 3 statements for account <<account_no>>? I need them for a mortgage application. "
        "You can call me on <<client_phone>> if needed.\nThanks, <<client_first>>\n---",
        "Hi <<client_first>>,\n\nOf course — I've requested the last three statements for your "
        "account and you'll receive them securely through the client portal within one business "
        "day. Good luck with the mortgage application!\n\nBest regards,\n[Your Name]",
        departments=("Wealth", "Operations"),
    ),
    T(
        "client_comm",
        "Draft a letter to <<client_name>> notifying that account <<account_no>> will be closed "
        "on <<date>> due to inactivity, and how to keep it open.",
        "Dear <<client_first>>,\n\nOur records show no activity on your account for more than "
        "24 months. Unless we hear from you, the account will be closed on <<date>> and any "
        "balance returned to you by cheque. To keep it open, simply log in, make a transaction "
        "or call us." + _EMAIL_CLOSE,
        departments=OPS_WEALTH,
    ),
    T(
        "client_comm",
        "Write a W-9 reminder to <<client_name>>: we have SSN <<ssn>> on file but the form isn't "
        "signed. Needs to be back before year-end to avoid backup withholding.",
        "Dear <<client_first>>,\n\nOur records show that your Form W-9 has not yet been signed. "
        "To avoid backup withholding on your account, please sign and return the enclosed form "
        "before December 31. If any of the details on file have changed, please correct them on "
        "the form." + _EMAIL_CLOSE,
        departments=("Wealth",),
    ),
]

# -- marketing ------------------------------------------------------------------------------

MARKETING = [
    T(
        "marketing",
        "Write a LinkedIn post announcing the launch of the <<fund>>. Upbeat, about 80 words, no "
        "performance claims.",
        "We're delighted to launch the <<fund>>. Built for investors who want their portfolio to "
        "reflect their priorities, it combines disciplined research with a long-term view. Our "
        "team is ready to talk you through how it could fit into your plan. #investing "
        "#wealthmanagement\n\nCapital at risk. The value of investments can go down as well as "
        "up.",
    ),
    T(
        "marketing",
        "Give me 10 taglines for a mortgage campaign aimed at first-time buyers.",
        "1. Your first key starts here\n2. Home, made simpler\n3. From renting to owning\n4. The "
        "first step home\n5. Plans for the place you'll call yours\n6. Open the door to your "
        "first home\n7. Clear steps, no surprises\n8. Built around your first move\n9. Because "
        "first homes matter\n10. Home is closer than you think",
    ),
    T(
        "marketing",
        "Rewrite this flyer copy so compliance won't reject it: 'Guaranteed returns of 8%! "
        "Risk-free investing with Northbridge. Beat the market every year.'",
        'A compliant alternative:\n\n"Looking to grow your savings? Our investment team builds '
        'diversified portfolios designed around your goals and attitude to risk."\n\nThe '
        "original makes promissory claims ('guaranteed', 'risk-free', 'beat the market') that "
        "aren't fair or balanced under FINRA 2210; any return figure needs context and risk "
        "warnings.",
    ),
    T(
        "marketing",
        "Draft web copy for our wealth planning page: three short sections (who it's for, how it "
        "works, next steps). Warm, not salesy.",
        "**Who it's for**\nPeople and families who want a clear plan for the years ahead — "
        "whether that's retirement, education or passing on wealth.\n\n**How it works**\nWe "
        "start with a conversation about what matters to you, build a plan around it and review "
        "it with you regularly.\n\n**Next steps**\nBook an introductory meeting with one of our "
        "planners. There's no obligation.",
    ),
    T(
        "marketing",
        "Write a job advert for a Senior Data Engineer in London, hybrid, Python/Spark/dbt. "
        "Inclusive language please.",
        "**Senior Data Engineer — London (hybrid)**\n\nYou'll design and run the data pipelines "
        "behind our payments and risk reporting, working with Python, Spark and dbt.\n\n**You "
        "might be a fit if you**\n- have built production data pipelines\n- care about data "
        "quality and testing\n- enjoy mentoring others\n\nWe welcome applicants from all "
        "backgrounds and offer flexible working. If you meet most but not all of the above, we'd "
        "still love to hear from you.",
        departments=("HR", "Technology"),
    ),
    T(
        "marketing",
        "The button in this email banner doesn't render in Outlook, can you fix the HTML?\n\n"
        '<table><tr><td><a href="https://northbridge-bank.example/offer" style="display:'
        'inline-block;padding:12px 20px;border-radius:6px;background:#0b3d91;color:#fff">'
        "Find out more</a></td></tr></table>\n<script>trackOpen('nb-oct')</script>",
        "Outlook ignores `border-radius`, `display:inline-block` padding and scripts. Use a "
        "bulletproof button built from a table cell with the background on the `<td>`:\n\n"
        '```html\n<table role="presentation"><tr><td bgcolor="#0b3d91" style="padding:12px 20px;">'
        '\n  <a href="https://northbridge-bank.example/offer" style="color:#ffffff;text-'
        'decoration:none;">Find out more</a>\n</td></tr></table>\n```\n\nAlso remove the '
        "`<script>` tag: email clients strip it and it will hurt deliverability. Use a tracking "
        "pixel from your email platform instead.",
        markup=True,
    ),
    T(
        "marketing",
        "Our newsletter preview shows '{{ first_name }}' literally instead of the name. The CMS "
        "uses Jinja and I wrapped the greeting in {% raw %}...{% endraw %}. What's wrong?",
        "`{% raw %}` tells Jinja **not** to render what's inside, so `{{ first_name }}` is "
        "printed literally. Remove the raw block around the greeting; keep `{% raw %}` only "
        "where you really want braces shown, such as in a code sample.",
        markup=True,
    ),
]

# -- deal team ------------------------------------------------------------------------------

_IB = ("Investment Banking",)

DEAL_TEAM = [
    T(
        "deal_team",
        "Summarise the key terms for <<codename>> into a one-pager for committee: <<acquirer>> "
        "acquiring <<target>> at $<<price>> per share, <<premium>>% premium to undisturbed, 60% "
        "cash / 40% stock, expected signing <<date>>.",
        "**<<codename>> — summary of key terms**\n\n- **Parties:** <<acquirer>> (buyer), "
        "<<target>> (target)\n- **Price:** $<<price>> per share, a <<premium>>% premium to the "
        "undisturbed price\n- **Consideration:** 60% cash, 40% buyer stock\n- **Timing:** "
        "signing targeted for <<date>>\n- **Key issues for committee:** financing certainty for "
        "the cash component, exchange-ratio protection (collar?), regulatory approvals and "
        "break fees\n\nNext steps: confirm fairness-opinion scope and conflicts clearance.",
        departments=_IB,
    ),
    T(
        "deal_team",
        "Draft an outline for the CIM for <<codename>> — <<target>>, a <<sector>> business with "
        "$<<rev>>m revenue and $<<ebitda>>m EBITDA.",
        "Proposed CIM outline:\n\n1. Executive summary and investment highlights\n2. Company "
        "overview and history\n3. Market overview (<<sector>>)\n4. Products, customers and go-to-"
        "market\n5. Operations and people\n6. Historical financials ($<<rev>>m revenue, "
        "$<<ebitda>>m EBITDA) and KPIs\n7. Management plan and projections\n8. Transaction "
        "process and next steps\n\nAppendix: quality-of-earnings bridge, customer cohort "
        "analysis.",
        departments=_IB,
    ),
    T(
        "deal_team",
        "List 10 plausible strategic buyers for a mid-market <<sector>> company, with one line "
        "on the rationale for each.",
        "Here are categories and examples of rationale (replace with names from your screening "
        "database):\n\n1. Larger domestic competitor — scale and cost synergies\n2. "
        "Adjacent-product player — cross-selling into the installed base\n3. International "
        "consolidator — US market entry\n4. Vertically integrated supplier — securing demand\n5. "
        "Private-equity-backed platform — add-on acquisition\n... and so on. I don't have live "
        "data on company appetites, so check recent M&A activity.",
        departments=_IB,
    ),
    T(
        "deal_team",
        "Sanity check: acquirer EPS $3.10, 400m shares, target net income $210m, buyer issues "
        "60m new shares and takes $2.4bn new debt at 6.5% pre-tax, 25% tax. Accretive or "
        "dilutive?",
        "Pro forma net income = acquirer NI (3.10 × 400m = $1,240m) + target $210m − after-tax "
        "interest (2,400 × 6.5% × 0.75 = $117m) = $1,333m.\nPro forma shares = 460m.\nPro "
        "forma EPS = $2.90 vs $3.10 standalone → about **6.5% dilutive** before synergies.\n\n"
        "You'd need roughly $92m of after-tax synergies to break even.",
        departments=_IB,
    ),
    T(
        "deal_team",
        "Tone down this teaser paragraph, it reads like an ad:\n\n<<teaser>>",
        'Revised:\n\n"The company is a leading provider in its segment of the market, with a '
        "long-standing customer base and a clear path to further growth. It generated $<<rev>>m "
        'of revenue and $<<ebitda>>m of EBITDA in the last financial year."',
        departments=_IB,
    ),
    T(
        "deal_team",
        "What reps and warranties are typical in a US take-private, and which ones usually get "
        "negotiated hardest?",
        "Typical target reps: organisation and authority, capitalisation, SEC filings and "
        "financial statements, absence of changes/MAE, litigation, compliance with laws, "
        "material contracts, taxes, employee benefits, IP and data privacy.\n\nIn public "
        "deals they generally don't survive closing, so the fights are about the MAE "
        "definition and its carve-outs, interim operating covenants, and the accuracy standard "
        "for bring-down at closing.",
        departments=_IB,
    ),
    T(
        "deal_team",
        "Draft an email to <<client_name>>, CFO of <<target>> (<<client_email>>, "
        "<<client_phone>>), proposing a management meeting for <<codename>> next week.",
        "Subject: <<codename>> — management meeting\n\nDear <<client_first>>,\n\nThank you for "
        "your time on our last call. As a next step, we'd like to propose a management meeting "
        "next week to go through the business plan and the key diligence questions. Would "
        "<<date>> at <<time>> work for you and your team?" + _EMAIL_CLOSE,
        departments=_IB,
    ),
    T(
        "deal_team",
        "Clean up my call notes for <<codename>>: spoke w/ <<client_name>> (<<client_phone>>) "
        "— board ok with range $<<price>>-ish, wants exclusivity 4 wks, worried about "
        "employees, concerned re leak, next call thurs",
        "**<<codename>> — call notes**\n\n- Spoke with <<client_name>>.\n- Board is comfortable "
        "with a price around $<<price>> per share.\n- Requests 4 weeks of exclusivity.\n- Key "
        "concern: treatment of employees; also sensitivity to any leak.\n- Next call: "
        "Thursday.",
        departments=_IB,
    ),
]

# -- research -------------------------------------------------------------------------------

RESEARCH = [
    T("research", "<<concept_q>>", "<<concept_a>>"),
    T("research", "<<concept_q>>", "<<concept_a>>", wrap=False),
    T(
        "research",
        "Summarise this policy for my team in at most 5 bullets, what do they actually need to "
        "do?\n\n<<policy_doc>>",
        "What the team needs to do:\n\n- Treat client data as Confidential and share it only "
        "with people who need it.\n- Use only approved systems and AI tools — never personal "
        "accounts — for bank work.\n- Report any suspected data loss to Information Security "
        "within one hour.\n- Respect the information barrier; ask Compliance before sharing "
        "across it.\n- Complete the annual training.",
    ),
    T(
        "research",
        "<<reg_q>>",
        "<<reg_a>>",
        departments=("Compliance", "Risk", "Markets", "Wealth", "Technology", "Executive"),
    ),
    T(
        "research",
        "Summarise the main points of this article in 3 bullets for the morning meeting:\n\n"
        "<<research_note>>",
        "<<research_bullets>>",
    ),
    T(
        "research",
        "Pros and cons of getting <<sector>> exposure through an ETF versus a basket of single "
        "stocks, for a client portfolio of about $2m?",
        "**ETF** — pros: instant diversification, low cost, simple to rebalance; cons: you own "
        "the weak names too, concentration in the index leaders, less control over tax "
        "lots.\n\n**Single stocks** — pros: conviction, tax-loss harvesting, no fund fee; "
        "cons: stock-specific risk, more monitoring, higher trading costs.\n\nAt $2m a core "
        "ETF with a few satellite positions is a common compromise. Suitability depends on the "
        "client's objectives and existing holdings.",
    ),
    T(
        "research",
        "Summarise this note in 5 bullets:\n\n<<research_note>>",
        "<<research_bullets>>",
        "Key points:\n\n<<research_bullets>>\n\nOverall: constructive, but the margin trend is "
        "the thing to watch.",
    ),
    T(
        "research",
        "Explain how a <<bps>>bp Fed cut would affect net interest margins for US regional banks.",
        "In the short run a cut usually **compresses** NIM for asset-sensitive regionals: "
        "floating-rate loans reprice down immediately while deposit costs fall more slowly, "
        "especially if competition for deposits is strong. Over 12-18 months the effect fades "
        "as deposit betas catch up and the curve steepens, which helps lenders that fund short "
        "and lend long. Banks with more fixed-rate assets and high-cost wholesale funding can "
        "benefit sooner.",
    ),
    T(
        "research",
        "Give me an overview of the <<sector>> sector outlook for next year: drivers, risks, "
        "valuation. Half a page.",
        "**Drivers:** easing rates supporting demand, normalising supply chains and steady "
        "pricing power for the leaders.\n\n**Risks:** a weaker consumer, input-cost spikes, "
        "regulatory scrutiny and execution risk in M&A.\n\n**Valuation:** the sector trades "
        "near its long-run average on forward earnings; upside relies on earnings delivery "
        "rather than multiple expansion.\n\nI don't have live market data, so please check "
        "current figures before using this externally.",
    ),
    T(
        "research",
        "Summarise these earnings call remarks and flag anything about credit quality:\n\n"
        "<<earnings_excerpt>>",
        "Summary:\n- Results at the top end of guidance; costs contained.\n- Management sees the "
        "trough near.\n\n**Credit quality:** described as benign; charge-offs in line with "
        "through-the-cycle levels. Exposure to the weakest segment is small and reserved.",
        "Main points: steady results, cautious outlook, capacity spending paused to protect "
        "cash. Nothing alarming on credit in these remarks.",
    ),
    T(
        "research",
        "Compare the Basel III endgame proposal with current US capital rules for large banks. "
        "Keep it short.",
        "The endgame proposal would replace internal models for credit and operational risk "
        "with standardised approaches, introduce the FRTB framework for market risk, and apply "
        "an output floor. The main effect is higher risk-weighted assets for the largest banks, "
        "concentrated in operational and market risk. Final calibration has been revised since "
        "the original proposal, so check the latest text.",
    ),
    T(
        "research",
        "Doing KYC refresh on <<client_name>>, <<address>>. Adverse media hits mention a "
        "lawsuit. What checks should I run and how do I document them?",
        "Suggested steps:\n\n1. Confirm the adverse media refers to the same person (date of "
        "birth, address, occupation).\n2. Classify the hit: civil vs criminal, relevance to "
        "financial crime, recency.\n3. Check sanctions/PEP screening results again.\n4. Document "
        "sources, your assessment and the outcome in the case file; escalate to the MLRO if the "
        "matter relates to fraud or money laundering.",
        departments=("Compliance", "Operations"),
    ),
]

# -- credit decision -----------------------------------------------------------------------

CREDIT = [
    T(
        "credit_decision",
        "Calculate DSCR: NOI $<<amount_m>>k, annual debt service $310k. And what DSCR would we "
        "need for a 1.25x covenant with 10% NOI haircut?",
        "DSCR = NOI ÷ debt service. With a 10% NOI haircut the covenant test becomes 0.9 × NOI ÷ "
        "debt service ≥ 1.25, i.e. unhaircut DSCR ≥ 1.39x. Plug in your NOI to check headroom.",
    ),
    T(
        "credit_decision",
        "Turn this credit memo into a one-paragraph recommendation for the committee:\n\n"
        "<<credit_memo>>",
        "Recommendation: approve, subject to the proposed covenant package. The credit is "
        "supported by recurring revenue, diversified customers and a sponsor with a track record "
        "with the bank. Key risks are leverage at the top of our appetite and integration of "
        "recent acquisitions; the step-down leverage covenant and first-lien security mitigate "
        "these.",
        "Recommend renewal at a reduced commitment with a springing leverage covenant, given "
        "declining revenue and margins but adequate liquidity.",
    ),
    T(
        "credit_decision",
        "What covenants would you suggest for a $<<loan_m>>m term loan to a <<sector>> company "
        "with leverage of <<lev>>x?",
        "Typical package at that leverage:\n- Maximum total net leverage with step-downs "
        "(opening headroom ~25-30%)\n- Minimum fixed-charge or interest cover\n- Restrictions on "
        "additional debt, liens, dividends and acquisitions above a basket\n- Excess cash-flow "
        "sweep if leverage stays above a threshold\n- Information covenants: quarterly "
        "financials and compliance certificate",
    ),
    T(
        "credit_decision",
        "Explain PD, LGD and EAD and how they combine into expected loss, with an example.",
        "EL = PD × LGD × EAD.\n\n- **PD**: probability the borrower defaults within a year.\n- "
        "**LGD**: share of the exposure lost if it defaults.\n- **EAD**: exposure at the time "
        "of default.\n\nExample: PD 2%, LGD 40%, EAD $5m → EL = 0.02 × 0.4 × 5m = $40k.",
    ),
    T(
        "credit_decision",
        "Summarise this loan application and recommend approve/decline: Applicant "
        "<<client_name>>, SSN <<ssn>>, <<address>>. Income $<<income>>, requested $<<loan_k>>k "
        "personal loan, FICO <<fico>>, DTI 38%, 2 late payments in 24 months.",
        "Summary: personal loan request of $<<loan_k>>k; income $<<income>>; FICO <<fico>>; "
        "DTI 38% (near our 40% limit); two late payments in the last 24 months.\n\n"
        "Recommendation: refer for manual review. The DTI is within policy but close to the "
        "limit and the recent delinquencies need an explanation. Consider a smaller amount or a "
        "shorter term.",
        departments=("Risk",),
    ),
    T(
        "credit_decision",
        "Borrower <<client_name>> (account <<account_no>>) has missed two mortgage payments. "
        "Draft a credit committee note on forbearance options.",
        "**Forbearance options — <<client_name>>**\n\n1. Short-term payment holiday (3 months) "
        "with arrears capitalised.\n2. Temporary interest-only period.\n3. Term extension to "
        "reduce the monthly payment.\n\nRecommend option 2 with a review after 6 months, subject "
        "to an updated income and expenditure assessment. Flag the account for enhanced "
        "monitoring.",
        departments=("Risk",),
    ),
    T(
        "credit_decision",
        "Assess the strength of a personal guarantee from <<client_name>>, <<address>>, stated "
        "net worth $<<nw>>m, mostly in one private company and a residence.",
        "The guarantee is weaker than the headline net worth suggests: most of it is illiquid "
        "and concentrated in the same business risk as the borrower, and the residence may be "
        "protected. I'd give it limited weight and ask for verified liquid assets or a second "
        "guarantor.",
        departments=("Risk",),
    ),
]

# -- HR evaluation --------------------------------------------------------------------------

_HR = ("HR",)

HR_EVAL = [
    T(
        "hr_eval",
        "Draft a performance review for <<employee_name>>, <<emp_title>> in <<emp_team>>. "
        "Strengths: <<strength>>. Development: <<weakness>>. Rating: <<rating>>.",
        "**Performance review — <<employee_name>>**\n\n**Summary.** <<employee_first>> had a "
        "solid year in <<emp_team>>. Overall rating: <<rating>>.\n\n**Strengths.** "
        "<<employee_first>> <<strength>>.\n\n**Development areas.** Focus for next year: "
        "<<weakness>>. We'll agree specific goals and check in quarterly.",
        "Here's a draft review for <<employee_first>>:\n\nThis year <<employee_first>> "
        "<<strength>>. An area to develop is <<weakness>>. Rating: <<rating>>.",
        departments=_HR,
    ),
    T(
        "hr_eval",
        "Compare these two candidates for the <<emp_title>> role and recommend one.\n"
        "<<employee_name>>: 6 yrs experience, strong technical test, weak on stakeholder "
        "questions.\n<<employee_name2>>: 4 yrs, average test, excellent references, great "
        "culture add.",
        "Both are viable. <<employee_name>> is stronger on the technical bar; <<employee_name2>> "
        "on stakeholder skills and references. If the role is mostly hands-on delivery, "
        "<<employee_name>>; if it's client- or stakeholder-facing, <<employee_name2>>.\n\n"
        "Note: base the decision on the structured interview scores and documented criteria; "
        "'culture add' should be defined and evidenced to avoid bias.",
        departments=_HR,
    ),
    T(
        "hr_eval",
        "<<employee_name>> has been late 6 times this quarter despite a verbal warning. Draft a "
        "first written warning letter.",
        "Dear <<employee_first>>,\n\nFollowing our meeting on <<date>>, this letter is a first "
        "written warning regarding your timekeeping. You were late on six occasions this "
        "quarter after an informal discussion. We expect you to arrive on time from now on. "
        "This warning will remain on file for 6 months. You have the right to appeal within "
        "5 working days.\n\nYours sincerely,\n[Manager]",
        departments=_HR,
    ),
    T(
        "hr_eval",
        "Summarise this 360 feedback for <<employee_name>> into themes for the review "
        "conversation:\n\n<<feedback_block>>",
        "Themes for <<employee_first>>:\n\n1. **Reliability under pressure** — widely "
        "recognised.\n2. **Openness to other views** — some feedback asks for more.\n3. "
        "**Communication and handovers** — room to improve.\n\nSuggest opening with the "
        "strengths, then agree one concrete development goal.",
        departments=_HR,
    ),
    T(
        "hr_eval",
        "Rank these engineers for promotion based on my notes: <<employee_name>> — led "
        "migration, great reviews; <<employee_name2>> — solid, quiet, high output; "
        "<<employee_name3>> — new to team, strong start.",
        "A tentative ordering from the notes: <<employee_name>>, then <<employee_name2>>, then "
        "<<employee_name3>>. But promotion decisions should rest on the documented criteria "
        "for the next level, with evidence for each, rather than a ranking from short notes — "
        "I'd avoid relying on this for the decision.",
        departments=_HR,
    ),
    T(
        "hr_eval",
        "Write calibration guidance for managers on telling 'meets' from 'exceeds'.",
        "**Meets** — delivers the goals of the role reliably and to the expected standard.\n"
        "**Exceeds** — goes clearly beyond the role's goals with impact others can see, and "
        "it's sustained over the year, not one event.\n\nIn calibration, bring two pieces of "
        "evidence per rating and compare against the level guide, not against peers.",
        departments=_HR,
    ),
    T(
        "hr_eval",
        "Interview questions for an AML analyst role — behavioural and technical, 8 total.",
        "1. Tell me about a suspicious activity you escalated — what made it suspicious?\n2. How "
        "do you prioritise a backlog of alerts?\n3. Walk me through the stages of money "
        "laundering with an example.\n4. What red flags suggest trade-based laundering?\n5. "
        "Describe a time you disagreed with a senior colleague's decision.\n6. How do you "
        "document an alert closure?\n7. What's the difference between CDD and EDD?\n8. How do "
        "sanctions screening and transaction monitoring differ?",
        departments=_HR,
    ),
]

# -- internal drafting ----------------------------------------------------------------------

INTERNAL = [
    T("internal_drafting", "Make this less passive-aggressive: <<soften_q>>", "<<soften_a>>"),
    T(
        "internal_drafting",
        "Can you make this sound friendlier without losing the point? <<soften_q>>",
        "Here's a friendlier version:\n\n<<soften_a>>",
    ),
    T("internal_drafting", "<<excel_q>>", "<<excel_a>>"),
    T("internal_drafting", "<<agenda_q>>", "<<agenda_a>>"),
    T("internal_drafting", "<<proof_q>>", "<<proof_a>>", wrap=False),
    T(
        "internal_drafting",
        "Write my out-of-office: away from <<date>> for two weeks, urgent things to the team "
        "mailbox, no phone access.",
        "Thank you for your email. I am out of the office from <<date>> for two weeks with no "
        "access to phone. For anything urgent, please contact the team mailbox, which is "
        "monitored daily. I will reply when I return.",
    ),
    T(
        "internal_drafting",
        "Draft a RACI for the month-end close: tasks are accruals, recs sign-off, variance "
        "commentary, system lock. Roles: Ops analyst, Team lead, Finance, Tech support.",
        "| Task | Ops analyst | Team lead | Finance | Tech support |\n|---|---|---|---|---|\n"
        "| Accruals | R | A | C | – |\n| Recs sign-off | R | A | I | – |\n| Variance "
        "commentary | C | R | A | – |\n| System lock | I | C | A | R |\n\nR = responsible, "
        "A = accountable, C = consulted, I = informed.",
    ),
    T(
        "internal_drafting",
        "Rewrite this KPI commentary for the monthly pack, more concise: 'The STP rate has "
        "improved when compared to the previous month, and it is now at <<pct>>%, which is "
        "attributable to the implementation of the new matching rules, although manual "
        "touches have remained elevated in the FX area due to the vendor issue.'",
        '"STP improved to <<pct>>% on the new matching rules; manual touches in FX remain '
        'high because of the vendor issue."',
    ),
    T(
        "internal_drafting",
        "Rewrite this procedure step so it's clear and short:\n\n<<sop_step>>",
        "Suggested rewrite:\n\n1. Check whether the item is in scope.\n2. If it is, start the "
        "process and note the deadline.\n3. Don't wait for the other party before starting.",
        "Plain version: do the check first, start the process straight away if it applies, and "
        "escalate to your team lead if the deadline is at risk.",
    ),
    T(
        "internal_drafting",
        "Turn these notes into meeting minutes with actions and owners:\n\n<<meeting_notes>>",
        "**Minutes**\n\n**Discussion**\n<<meeting_notes>>\n\n**Actions**\n- Pull evidence "
        "samples for audit — owner TBC — due Friday\n- Raise late confirms with vendor "
        "management — owner TBC\n- Confirm new UAT date\n\nNext meeting: same time next week.",
    ),
    T(
        "internal_drafting",
        "Summarise this incident for senior management in 4 sentences:\n\n<<incident_text>>",
        "An overnight processing failure delayed payments for about two hours; all items were "
        "released the same morning and no client lost money. The cause was an unannounced "
        "change in a supplier's file. We have added checks on incoming files and alerts on "
        "processing time. No regulatory notification is required.",
        "Service was disrupted briefly and restored by a rollback. Impact was limited and "
        "there was no financial loss. Preventive actions are in place.",
    ),
    T(
        "internal_drafting",
        "Draft a paragraph for our policy on the acceptable use of generative AI tools: only "
        "approved tools, no client data in unapproved tools, human review of anything sent to "
        "clients.",
        "Staff may use only generative AI tools approved by the firm and listed in the AI tool "
        "register, and only for the purposes approved for each tool. Client, customer and "
        "confidential information must never be entered into an unapproved tool, including "
        "personal accounts on approved services. Any AI-assisted content sent to clients or the "
        "public must be reviewed and approved by a person in line with our communications "
        "policy before use. Usage is logged and may be reviewed.",
        departments=("Compliance", "Technology", "HR", "Executive", "Risk"),
    ),
    T(
        "internal_drafting",
        "Turn these bullet points into a short status update email to my team: migration 80% "
        "done, cutover moved to <<date>>, need volunteers for weekend support, thanks for the "
        "effort.",
        "Subject: Migration status\n\nHi all,\n\nQuick update: the migration is about 80% "
        "complete and cutover has moved to <<date>>. We'll need a few volunteers for weekend "
        "support — please reply if you can help. Thank you all for the effort so far.\n\n"
        "Thanks,\n[Your Name]",
    ),
    T(
        "internal_drafting",
        "Write a one-page board update on our AI programme: adoption, risks, controls, next "
        "quarter priorities.",
        "**AI programme — board update**\n\n**Adoption.** Usage of approved assistants continues "
        "to grow across technology, operations and the front office.\n\n**Risks.** Data "
        "leakage to unapproved tools, over-reliance on outputs, and regulatory expectations on "
        "supervision and records.\n\n**Controls.** Approved-tool register, gateway logging, "
        "periodic sample-based audit of prompts, and training.\n\n**Next quarter.** Extend "
        "logging to remaining tools, complete AI-literacy training, and report audit results.",
        departments=("Executive", "Technology", "Risk", "Compliance"),
    ),
    T(
        "internal_drafting",
        "Kannst du diese Nachricht ans Team kürzer und klarer formulieren? 'Aufgrund der "
        "Tatsache, dass die Umstellung des Abstimmungsprozesses sich verzögert, müssen wir "
        "leider die Schulung, die für nächste Woche geplant war, verschieben.'",
        "„Die Umstellung des Abstimmungsprozesses verzögert sich. Deshalb verschieben wir die "
        "für nächste Woche geplante Schulung.“",
        regions=("EU",),
    ),
    T(
        "internal_drafting",
        "Reformule ce message de façon plus professionnelle : « le rapport est en retard parce "
        "que personne m'a envoyé les chiffres »",
        "« Le rapport a pris du retard, car les chiffres nécessaires ne m'ont pas encore été "
        "transmis. Pourriez-vous me les faire parvenir dès que possible ? »",
        regions=("EU",),
    ),
    # -- operations with client data
    T(
        "internal_drafting",
        "Summarise this break report and group by root cause:\n\n<<recon_rows>>",
        "Grouped by root cause:\n\n- **Missing or late confirmations** — chase counterparties; "
        "escalate after 5 days.\n- **Amount mismatches vs statements** — check FX conversion "
        "and fees.\n- **Duplicate booking** — reverse the duplicate after 4-eyes check.\n- "
        "**Fees not posted** — raise with the fee engine team.\n\nLargest exposure: the "
        "duplicate booking; resolve first.",
        departments=("Operations",),
    ),
    T(
        "internal_drafting",
        "These chargebacks are aged over 30 days, draft an escalation email to the card ops "
        "lead:\n\n<<chargeback_rows>>",
        "Subject: Aged chargebacks over 30 days — escalation\n\nHi,\n\nThe chargebacks below "
        "have been open for more than 30 days and are at risk of missing network deadlines. "
        "Could we agree owners and a plan by end of day tomorrow?\n\n<<chargeback_rows>>\n\n"
        "Thanks,\n[Your Name]",
        "Subject: Aged chargebacks — action needed\n\nHi,\n\nWe have a few chargebacks aged "
        "more than 30 days. Please prioritise them this week so we stay within scheme "
        "timelines.\n\nThanks,\n[Your Name]",
        departments=OPS_WEALTH,
    ),
    T(
        "internal_drafting",
        "Write a note to the payments team: the wire to IBAN <<iban>> (beneficiary "
        "<<client_name>>) was returned, reason AC04 (closed account). Ask them to contact the "
        "client and not resubmit.",
        "Hi team,\n\nThe outgoing wire to the beneficiary <<client_name>> was returned with "
        "reason code AC04 (account closed). Please do not resubmit. Could someone contact the "
        "client to obtain updated beneficiary details and confirm them through a call-back?\n\n"
        "Thanks",
        departments=("Operations", "Wealth"),
    ),
    T(
        "internal_drafting",
        "Write up this incident: customer <<client_name>>'s card <<pan>> was charged twice by "
        "<<merchant>> ($<<amount_small>> each) because of a duplicate authorisation in our "
        "switch. Refund was issued today.",
        "**Incident summary**\n\nA customer was charged twice by <<merchant>> for "
        "$<<amount_small>> because our card switch processed a duplicate authorisation. The "
        "duplicate has been refunded. Root-cause analysis of the switch is under way; affected "
        "transactions in the same window are being checked.",
        "Summary: duplicate authorisation in the card switch caused a double charge for one "
        "customer (card <<pan>>). Refunded today; investigation ongoing.",
        departments=OPS_WEALTH,
    ),
    T(
        "internal_drafting",
        "Clean up these call notes for the CRM: <<client_name>> rang from <<client_phone>>, "
        "moved house, new address <<address>>, wants statements by email to <<client_email>> "
        "from now on, also asked about card limit increase",
        "**Call notes**\n- Client called to update contact details.\n- New address recorded "
        "(verify with proof of address).\n- Statement preference: email.\n- Enquired about a "
        "card limit increase — refer to card team.",
        "Call with <<client_name>>: address change, e-statements requested, card limit query "
        "passed to the card team.",
        departments=OPS_WEALTH,
    ),
    T(
        "internal_drafting",
        "Customer <<client_name>> (SSN <<ssn>>, account <<account_no>>) failed KYC refresh "
        "because the ID expired. Draft the internal note to restrict the account pending "
        "documents.",
        "**Account restriction note**\n\nThe customer failed KYC refresh because the identity "
        "document on file has expired. Apply a debit restriction pending receipt of a valid ID. "
        "Contact the customer in writing and by phone; review in 30 days.",
        departments=("Operations", "Compliance"),
    ),
    T(
        "internal_drafting",
        "Someone pasted this into our Confluence page and it broke the layout: "
        "<script>alert(1)</script><b>Q3 targets</b>. How do I stop that happening?",
        "Confluence (like most wikis) strips or escapes `<script>` in normal pages, so if it "
        "executed, a macro that renders raw HTML is enabled. Ask the space admin to disable the "
        "HTML macro, and paste content as plain text (Ctrl+Shift+V). Report the page to the "
        "security team in case it wasn't accidental.",
        markup=True,
    ),
]

TEMPLATES: list[Template] = (
    CODING + CLIENT_COMM + MARKETING + DEAL_TEAM + RESEARCH + CREDIT + HR_EVAL + INTERNAL
)

# -- follow-ups: later turns of a conversation, sent with its history -------------------------

_GENERIC_FOLLOW = ("client_comm", "marketing", "internal_drafting", "research", "deal_team")

FOLLOW_UPS = [
    T(
        _GENERIC_FOLLOW + ("credit_decision", "hr_eval"),
        "Make it shorter.",
        "Sure — here's a tighter version:\n\n<<research_bullets>>",
        "Shorter version: the main points stand; I've cut the detail and kept the conclusion.",
        wrap=False,
    ),
    T(
        _GENERIC_FOLLOW,
        "Can you make the tone a bit warmer?",
        "Of course. I've softened the opening, added a thank-you and ended on a next step:\n\n"
        "<<email_lines>>",
        wrap=False,
    ),
    T(
        _GENERIC_FOLLOW + ("credit_decision",),
        "thanks! can you put that in a table",
        "| Point | Detail |\n|---|---|\n| Summary | As above |\n| Risks | Margin pressure, "
        "demand |\n| Next step | Review in one month |",
        wrap=False,
    ),
    T(
        _GENERIC_FOLLOW,
        "Good. Add a closing line about next steps.",
        "Added: \"I'll follow up by the end of the week with the next steps and a proposed "
        'timeline."',
        wrap=False,
    ),
    T(
        _GENERIC_FOLLOW + ("hr_eval",),
        "That's too long, max 100 words please.",
        "Here it is in under 100 words, keeping the key message and the ask.",
        wrap=False,
    ),
    T(
        ("client_comm", "marketing"),
        "Can you double-check that nothing in there could be read as a promise of returns?",
        "I checked: there are no statements of guaranteed or expected returns. The phrase "
        '"designed to" describes intent, not outcome, which is acceptable. Keep the standard '
        "risk warning at the end.",
        wrap=False,
    ),
    T(
        "coding",
        "That didn't work, same error.",
        "Then the cause is probably earlier than the line in the traceback. Can you print the "
        "inputs just before the call and share the output (with any real data removed)? Also "
        "check you're running the updated code — a stale container image is a common culprit.",
        wrap=False,
    ),
    T(
        "coding",
        "Can you add type hints and a docstring?",
        'Sure:\n\n```python\ndef process(items: list[dict[str, object]]) -> list[str]:\n    """'
        'Return the ids of items that passed validation, in input order."""\n    ...\n```',
        wrap=False,
    ),
    T(
        "coding",
        "now write a test for it",
        "```python\ndef test_process_keeps_valid_items_in_order():\n    items = [{'id': 'a', "
        "'ok': True}, {'id': 'b', 'ok': False}, {'id': 'c', 'ok': True}]\n    assert "
        "process(items) == ['a', 'c']\n```",
        wrap=False,
    ),
    T(
        "coding",
        "How would I do the same in pandas?",
        "```python\nout = (df[df['status'].eq('OPEN') & df['age'].gt(5)]\n       .groupby('owner')"
        "['amount'].sum()\n       .sort_values(ascending=False))\n```",
        wrap=False,
    ),
    T(
        "coding",
        "what's the time complexity of that",
        "O(n) to scan the input plus O(k log k) to sort the k groups, so O(n + k log k) overall "
        "— effectively linear when there are few groups.",
        wrap=False,
    ),
]
