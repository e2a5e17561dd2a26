"""Plain slot values and macros for the demo templates: companies, figures, dates, and the
material people paste into prompts (research notes, stack traces, logs, break reports).

All of it is invented. Sensitive values (names, cards, SSNs...) come from `content.Slots`,
so they are labelled wherever a macro places them.
"""

from __future__ import annotations

from collections.abc import Callable

from auditor.demo.content import Macro, PlainSlots, Slots, macro
from auditor.demo.qa import QA_MACROS

_COMPANY_HEADS = (
    "Aldermoor", "Brightwater", "Caldera", "Dunmore", "Everline", "Fairhaven", "Greystone",
    "Harrowgate", "Ironbridge", "Juniper", "Kestrel Point", "Larkspur", "Marlow", "Northgate",
    "Oakridge", "Pinecrest", "Quarry Hill", "Redfern", "Silverline", "Tidewater", "Upland",
    "Valemont", "Westbrook", "Yarrow", "Ashcombe", "Bellweather", "Corran", "Halden",
)  # fmt: skip
_COMPANY_TAILS = (
    "Logistics", "Foods", "Energy", "Therapeutics", "Software", "Industrials", "Retail Group",
    "Holdings", "Materials", "Semiconductors", "Media", "Hospitality", "Aerospace", "Packaging",
    "Health Systems", "Analytics", "Water", "Components",
)  # fmt: skip
_COMPANY_SUFFIX = ("Inc.", "plc", "AG", "Ltd", "Corp.", "", "", "")
_CODENAMES = (
    "Kestrel", "Falcon", "Heron", "Osprey", "Granite", "Cobalt", "Juniper", "Sequoia", "Meridian",
    "Halcyon", "Tempest", "Aurora", "Bluebird", "Citadel", "Saffron", "Onyx", "Lighthouse",
    "Atlas Peak", "Redwood", "Bramble", "Nightjar", "Quartz", "Sable", "Tamarind",
)  # fmt: skip
SECTORS = (
    "industrials", "consumer staples", "healthcare services", "semiconductors", "regional banks",
    "utilities", "enterprise software", "specialty chemicals", "logistics", "media",
    "medical devices", "renewable energy", "insurance brokers", "REITs",
)  # fmt: skip
_FUNDS = (
    "Northbridge Global Income Fund", "Northbridge Sustainable Equity Fund",
    "Northbridge Short Duration Bond Fund", "Northbridge Multi-Asset Balanced Fund",
    "Northbridge US Dividend Growth Fund",
)  # fmt: skip
_SERVICES = (
    "payments-gateway", "card-auth-service", "ledger-sync", "kyc-screening", "trade-capture",
    "fx-pricer", "statement-renderer", "risk-aggregator", "client-portal-api", "recon-engine",
)  # fmt: skip
_MERCHANTS = (
    "SKYLINE HOTELS LISBON", "AMZN MKTP US", "UBER TRIP", "BLUEWAVE ELECTRONICS",
    "CITYRAIL TICKETS", "GRAND CAFE NYC", "PAYPAL *STREAMBOX", "SHELL 0421", "TRAVELNOW.EXAMPLE",
)  # fmt: skip
_EMP_TITLES = (
    "Operations Analyst", "Senior Software Engineer", "Relationship Manager", "Credit Risk Analyst",
    "Associate", "Vice President", "Payments Specialist", "Compliance Officer", "Data Engineer",
)  # fmt: skip
_EMP_TEAMS = (
    "Card Operations", "Payments Engineering", "Private Banking East", "Credit Risk",
    "FX Sales", "Client Onboarding", "Surveillance", "Data Platform",
)  # fmt: skip
_STRENGTHS = (
    "owns problems end to end and communicates early",
    "strong client relationships, consistently high NPS",
    "very accurate work, trusted by the desk",
    "mentors juniors and leads the team's knowledge sharing",
    "delivered the reconciliation automation two weeks early",
    "calm under pressure during the Q2 incident",
)  # fmt: skip
_WEAKNESSES = (
    "needs to delegate more",
    "documentation is often late",
    "can be defensive in code reviews",
    "should escalate risks sooner",
    "time management on multi-week projects",
    "presentation skills with senior stakeholders",
)  # fmt: skip
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def _company(s: Slots) -> str:
    suffix = s.rng.choice(_COMPANY_SUFFIX)
    name = f"{s.rng.choice(_COMPANY_HEADS)} {s.rng.choice(_COMPANY_TAILS)}"
    return f"{name} {suffix}".strip()


def _date(s: Slots) -> str:
    day = s.rng.choice([d for d in s.days if d.weekday() < 5])
    return f"{day.strftime('%A')} {day.day} {_MONTHS[day.month - 1]}"


def _quarter(s: Slots) -> str:
    # The most recently reported quarter as of the period.
    month = s.days[0].month
    year = s.days[0].year
    q = (month - 1) // 3
    return f"Q{q} {year}" if q else f"Q4 {year - 1}"


def _money(low: float, high: float, digits: int = 1) -> Callable[[Slots], str]:
    return lambda s: f"{s.rng.uniform(low, high):,.{digits}f}"


def _ticker(s: Slots) -> str:
    letters = "ABCDEFGHJKLMNPRSTVWXZ"
    return "".join(s.rng.choice(letters) for _ in range(s.rng.choice((3, 4, 4))))


PLAIN: PlainSlots = {
    "company": _company,
    "acquirer": _company,
    "target": _company,
    "ticker": _ticker,
    "codename": lambda s: "Project " + s.rng.choice(_CODENAMES),
    "sector": lambda s: s.rng.choice(SECTORS),
    "quarter": _quarter,
    "year": lambda s: str(s.days[0].year),
    "month": lambda s: _MONTHS[s.days[0].month - 1],
    "date": _date,
    "time": lambda s: f"{s.rng.randint(8, 17)}:{s.rng.choice(('00', '15', '30', '45'))}",
    "pct": _money(1.0, 18.0),
    "pct_small": _money(0.1, 2.5, 2),
    "bps": lambda s: str(s.rng.choice((10, 15, 25, 35, 50, 75))),
    "amount_m": _money(5, 900),
    "amount_k": _money(10, 950, 0),
    "amount_small": _money(12, 4800, 2),
    "price": _money(8, 140, 2),
    "premium": lambda s: str(s.rng.randint(18, 45)),
    "rev": lambda s: str(s.rng.randint(80, 2400)),
    "ebitda": lambda s: str(s.rng.randint(12, 420)),
    "lev": _money(1.5, 6.5),
    "dscr": _money(0.9, 2.4, 2),
    "fico": lambda s: str(s.rng.randint(560, 815)),
    "income": lambda s: f"{s.rng.randint(45, 420) * 1000:,}",
    "loan_k": lambda s: str(s.rng.randint(25, 1500)),
    "loan_m": lambda s: str(s.rng.choice((15, 25, 40, 60, 75, 120, 250))),
    "nw": _money(1.2, 40),
    "fund": lambda s: s.rng.choice(_FUNDS),
    "service": lambda s: s.rng.choice(_SERVICES),
    "jira": lambda s: (
        f"{s.rng.choice(('PAY', 'CARD', 'OPS', 'RISK', 'PLAT'))}-{s.rng.randint(100, 9999)}"
    ),
    "version": lambda s: f"{s.rng.randint(1, 4)}.{s.rng.randint(0, 30)}.{s.rng.randint(0, 9)}",
    "port": lambda s: str(s.rng.choice((5432, 1521, 6379, 8080, 8443, 9092, 27017))),
    "namespace": lambda s: s.rng.choice(("payments-prod", "cards-uat", "risk-batch", "core-prod")),
    "pod_hash": lambda s: f"{s.rng.getrandbits(40):010x}"[:10],
    "emp_title": lambda s: s.rng.choice(_EMP_TITLES),
    "emp_team": lambda s: s.rng.choice(_EMP_TEAMS),
    "strength": lambda s: s.rng.choice(_STRENGTHS),
    "weakness": lambda s: s.rng.choice(_WEAKNESSES),
    "rating": lambda s: s.rng.choice(
        ("Exceeds", "Meets", "Meets", "Strongly meets", "Partially meets")
    ),
    "merchant": lambda s: s.rng.choice(_MERCHANTS),
    "reason_code": lambda s: s.rng.choice(("10.4", "13.1", "12.6.1", "4837", "4853")),
    "count": lambda s: str(s.rng.randint(3, 48)),
    "pair": lambda s: s.rng.choice(("EUR/USD", "GBP/USD", "USD/JPY", "AUD/USD", "USD/CHF")),
    "rate": _money(3.1, 5.6, 2),
    "case_no": lambda s: f"CB-{s.rng.randint(100000, 999999)}",
    "card_tail": lambda s: f"{s.rng.randint(0, 9999):04d}",
}


# -- macros: text people paste into prompts ---------------------------------------------------

_NOTE_SENTENCES = (
    "<<company>> reported <<quarter>> revenue up <<pct>>% year on year, ahead of consensus, "
    "helped by pricing and a stronger mix.",
    "Margins compressed by <<pct_small>> points as input costs and wage inflation outpaced "
    "price increases.",
    "Management reiterated full-year guidance but flagged softer order intake in Europe.",
    "We see the <<sector>> sector trading at a discount to its ten-year average on forward "
    "earnings, which leaves room for a re-rating if rates fall.",
    "Free cash flow conversion improved to <<pct>>%, and net leverage fell to <<lev>>x.",
    "The key risk to our view is a slower recovery in volumes in the second half.",
    "A <<bps>>bp cut by the Fed would lower funding costs for the sector but pressure deposit "
    "margins at the regional lenders.",
    "Consensus expects mid-single-digit earnings growth next year; we are <<pct_small>>% above.",
    "Inventory destocking appears to be over, with book-to-bill back above one.",
    "We keep our Overweight rating and raise the price target to $<<price>>.",
    "Credit spreads in the sector tightened <<bps>>bp over the month on strong inflows.",
    "The stock has underperformed the index by <<pct>>% year to date, largely on concerns about "
    "the regulatory review.",
    "Capital return remains a support: the buyback programme was extended by $<<amount_m>>m.",
    "Peers such as <<company2>> have guided more cautiously, citing customer hesitancy.",
)


def _paragraphs(sentences: tuple[str, ...], low: int, high: int) -> Macro:
    def build(s: Slots) -> str:
        paras = []
        for _ in range(s.rng.randint(low, high)):
            paras.append(" ".join(s.rng.sample(sentences, s.rng.randint(2, 4))))
        return "\n\n".join(paras)

    return Macro(build, sentences)


def _bullets(sentences: tuple[str, ...], low: int, high: int) -> Macro:
    def build(s: Slots) -> str:
        return "\n".join("- " + x for x in s.rng.sample(sentences, s.rng.randint(low, high)))

    return Macro(build, sentences)


_SUMMARY_POINTS = (
    "Revenue growth came in ahead of expectations, driven by pricing rather than volume.",
    "Margins are under pressure from input costs; management expects relief in the second half.",
    "Guidance was maintained, which the market read as cautious.",
    "Balance sheet is solid, with leverage trending lower.",
    "Valuation looks undemanding relative to history, but the catalyst is unclear.",
    "The main risk is a slower recovery in European demand.",
    "Capital return (buybacks) remains a support for the shares.",
    "Peers are guiding more cautiously, so relative performance may hold up.",
    "Watch deposit costs: a rate cut helps funding but squeezes margins.",
)

_EMAIL_LINES = (
    "Thank you for your continued trust in Northbridge.",
    "I would be happy to walk you through the details on a short call.",
    "If anything changes on your side, just reply to this email.",
    "Please don't hesitate to get in touch if you have any questions.",
    "You can also reach our client service team through the secure portal.",
)

_CALL_PREP = (
    "Acknowledge the drawdown first; don't lead with performance attribution.",
    "Remind them the portfolio is positioned for their 10-year horizon.",
    "Walk through what drove the quarter: duration, equities, the dollar.",
    "Confirm their cash needs for the next 12 months haven't changed.",
    "Offer a rebalancing review rather than a strategy change.",
    "Agree a date for the next check-in before ending the call.",
)

_MEETING_NOTES = (
    "recon breaks down to 41 from 63, aged >5d still 9",
    "vendor file for FX confirms late 3x this week — raise with vendor mgmt",
    "UAT for the new chargeback workflow slips a week (env issue)",
    "Sam to own the KPI deck going forward",
    "audit asked for evidence of 4-eyes on manual payments — pull samples by Fri",
    "headcount: 2 reqs approved, 1 on hold",
    "new SLA for card replacement is 3 business days from 1st of next month",
    "DR test went fine except the batch restart took 40 min",
    "team offsite moved to the 14th",
    "question from Risk on the limit breach last Tue — explanation drafted",
)

_INCIDENTS = (
    "At 07:42 the overnight settlement batch failed on a schema change in the upstream file. "
    "Payments were held for 2h15m; 1,284 items were released after a manual re-run. No client "
    "funds were lost. Root cause: the vendor added a column without notice. Actions: contract "
    "validation on file intake, alerting on batch duration.",
    "The client portal returned errors for about 35 minutes after a certificate rotation. "
    "Around 6% of logins failed. The rollback restored service. We are adding the certificate "
    "chain to the deployment checklist and a synthetic login probe.",
    "A pricing feed delivered stale FX rates for 18 minutes. Three trades were booked at stale "
    "prices and have been amended with the counterparties' agreement. The feed handler now "
    "rejects quotes older than 5 seconds.",
)

_SOP_STEPS = (
    "Upon receipt of the dispute the analyst shall ascertain whether the transaction falls "
    "within the scope of the chargeback rules and, where applicable, initiate provisional "
    "credit processes subject to the relevant timelines notwithstanding any pending "
    "investigations by the merchant acquirer.",
    "Prior to release, all manual payments exceeding the threshold must be subjected to a "
    "secondary review by a person other than the initiator, which review is to be evidenced "
    "in the system by means of the approval function and not by email.",
    "Where the nostro break is older than five business days and the counterparty has not "
    "responded, the item is to be escalated to the team lead who will determine whether a "
    "write-off request is appropriate in accordance with the thresholds.",
)

_JARGON = (
    "The portfolio's duration positioning was tactically reduced given the steepening bias in "
    "the curve, while we maintained a modest overweight to IG credit on a carry basis, "
    "partially offset by the drag from the USD's appreciation versus G10 crosses.",
    "Dispersion within the equity sleeve widened as mega-cap concentration unwound, and our "
    "quality factor tilt detracted on a relative basis though it reduced drawdown risk.",
)

_EARNINGS = (
    "CFO: 'Net interest income came in at the upper end of our range. Deposit betas have "
    "stabilised and we expect NII to trough in the first quarter. Expenses were flat, ex the "
    "one-off litigation charge. Credit quality remains benign; net charge-offs were 41 basis "
    "points, in line with our through-the-cycle expectations.'\n"
    "Analyst: 'Can you talk about commercial real estate?'\n"
    "CFO: 'Office is 3% of the book. We've taken reserves to 9% of that exposure and we're "
    "comfortable with where we are.'",
    "CEO: 'Order intake was down 4% but the backlog is still 14 months. Pricing held. We are "
    "pausing the Mexico capacity expansion until we see demand recover, which protects cash "
    "flow. Buybacks continue at the current pace.'",
)

_TEASERS = (
    "<<codename>> is a market-leading, best-in-class platform in <<sector>> with an "
    "unparalleled customer franchise, extraordinary growth runway and a truly unique, "
    "irreplicable position, generating $<<rev>>m of revenue and $<<ebitda>>m of EBITDA.",
)

_FEEDBACK = (
    '"Always the person I go to when a release is at risk."\n'
    '"Could be more open to alternative approaches in design reviews."\n'
    '"Great with clients, but handovers to the team are sometimes thin."\n'
    '"Took on the on-call rota redesign without being asked — huge help."',
    '"Very knowledgeable, but meetings run over when they present."\n'
    '"Supportive manager, protects the team\'s time."\n'
    '"I would like more direct feedback on my work."',
)

_CREDIT_MEMOS = (
    "Borrower: <<company>> (<<sector>>). Request: $<<loan_m>>m 5-year senior secured term loan "
    "to refinance existing debt and fund capex. LTM revenue $<<rev>>m, EBITDA $<<ebitda>>m, total "
    "leverage <<lev>>x, interest cover 3.1x. Collateral: first lien on all assets. Sponsor: "
    "mid-market PE fund, 3rd deal with us. Strengths: recurring revenue (70%), low customer "
    "concentration. Weaknesses: FX exposure, integration risk from two recent bolt-ons. "
    "Proposed covenants: max leverage 5.0x stepping down to 4.0x, min FCCR 1.25x. Internal rating "
    "5 (BB-).",
    "Borrower: <<company>>. Revolver renewal $<<loan_m>>m. Utilisation has averaged 35%. Revenue "
    "declined 6% last year on lower volumes; EBITDA margin 14% (from 17%). Leverage <<lev>>x. "
    "Liquidity adequate at $<<amount_m>>m. Recommendation: renew at reduced commitment with a "
    "springing leverage covenant.",
)

_PY_TRACEBACKS = (
    """Traceback (most recent call last):
  File "/app/jobs/eod_positions.py", line 88, in <module>
    main()
  File "/app/jobs/eod_positions.py", line 71, in main
    df = enrich(load_positions(run_date))
  File "/app/jobs/eod_positions.py", line 44, in enrich
    df["notional_usd"] = df["notional"] * df["ccy"].map(rates)
  File "/usr/lib/python3.11/site-packages/pandas/core/frame.py", line 3893, in __getitem__
    indexer = self.columns.get_loc(key)
KeyError: 'ccy'""",
    """Traceback (most recent call last):
  File "/opt/recon/match.py", line 132, in match_breaks
    key = (row.trade_ref.strip(), row.value_date)
AttributeError: 'NoneType' object has no attribute 'strip'""",
    """Traceback (most recent call last):
  File "/srv/statements/render.py", line 57, in render_pdf
    total = sum(line["amount"] for line in lines)
TypeError: unsupported operand type(s) for +: 'int' and 'str'""",
    """Traceback (most recent call last):
  File "tests/test_fees.py", line 23, in test_tiered_fee
    assert calc_fee(Decimal("250000")) == Decimal("312.50")
AssertionError: assert Decimal('312.5000000000000142108547152') == Decimal('312.50')""",
)

_PY_TRACEBACKS_IP = (
    """Traceback (most recent call last):
  File "/app/<<service>>/db.py", line 31, in connect
    conn = psycopg2.connect(dsn, connect_timeout=5)
  File "/usr/local/lib/python3.11/site-packages/psycopg2/__init__.py", line 122, in connect
    conn = _connect(dsn, connection_factory=connection_factory, **kwasync)
psycopg2.OperationalError: could not connect to server: Connection refused
\tIs the server running on host "<<ip>>" and accepting
\tTCP/IP connections on port 5432?""",
    """Traceback (most recent call last):
  File "/app/<<service>>/client.py", line 64, in fetch_limits
    resp = session.get(f"http://<<ip>>:8080/api/v2/limits", timeout=3)
  File "/usr/local/lib/python3.11/site-packages/requests/sessions.py", line 602, in get
    return self.request("GET", url, **kwargs)
requests.exceptions.ConnectTimeout: HTTPConnectionPool(host='<<ip>>', port=8080): Max retries \
exceeded with url: /api/v2/limits (Caused by ConnectTimeoutError(<urllib3.connection.\
HTTPConnection object at 0x7f3a2c1e5d90>, 'Connection to <<ip>> timed out. (connect \
timeout=3)'))""",
    """redis.exceptions.ConnectionError: Error 111 connecting to <<ip>>:6379. Connection refused.
  File "/app/<<service>>/cache.py", line 19, in get_session
    return self._r.get(f"sess:{sid}")""",
)

_JAVA_TRACES_IP = (
    """2026-10-07 03:12:44,118 ERROR [batch-7] c.n.recon.LedgerSyncJob - sync failed
java.sql.SQLRecoverableException: IO Error: The Network Adapter could not establish the \
connection (CONNECTION_ID=Qm9vb2sK)
\tat oracle.jdbc.driver.T4CConnection.logon(T4CConnection.java:858)
\tat oracle.jdbc.driver.PhysicalConnection.connect(PhysicalConnection.java:793)
\tat com.zaxxer.hikari.pool.PoolBase.newConnection(PoolBase.java:364)
\tat com.northbridge.recon.LedgerSyncJob.run(LedgerSyncJob.java:142)
Caused by: java.net.ConnectException: Connection refused (host=<<ip>>, port=1521)
\tat java.base/sun.nio.ch.Net.pollConnect(Native Method)""",
    """org.springframework.web.client.ResourceAccessException: I/O error on POST request for \
"https://<<ip>>:8443/auth/token": Read timed out
\tat org.springframework.web.client.RestTemplate.doExecute(RestTemplate.java:791)
\tat com.northbridge.cards.AuthClient.token(AuthClient.java:55)
\tat com.northbridge.cards.AuthorizationService.authorize(AuthorizationService.java:118)""",
)

_POD_LOG_LINES = (
    '{"level":"warn","ts":"<<time>>:07Z","msg":"upstream timeout","upstream":"<<ip>>:<<port>>",'
    '"service":"<<service>>","latency_ms":5003}',
    '{"level":"error","ts":"<<time>>:09Z","msg":"circuit open","peer":"<<ip2>>","failures":12}',
    "<<service>>-<<pod_hash>> 0/1 CrashLoopBackOff 7 (2m ago)",
    'Readiness probe failed: Get "http://<<ip3>>:8080/healthz": context deadline exceeded',
    "I1007 <<time>>:11.402 1 reconciler.go:224] endpoint <<ip>> removed from service <<service>>",
    "OOMKilled: container <<service>> exceeded memory limit 512Mi",
    '{"level":"info","ts":"<<time>>:12Z","msg":"retrying","attempt":3,"peer":"<<ip2>>"}',
)

_NGINX_LINES = (
    '<<ip>> - - [07/Oct/2026:10:14:02 +0000] "POST /api/v1/payments HTTP/1.1" 502 166 "-" '
    '"okhttp/4.12.0" rt=30.001 uct="-" urt="30.000"',
    '<<ip2>> - - [07/Oct/2026:10:14:05 +0000] "GET /api/v1/accounts/summary HTTP/1.1" 200 '
    '2381 "-" "Mozilla/5.0" rt=0.084',
    '<<ip>> - - [07/Oct/2026:10:14:09 +0000] "POST /api/v1/payments HTTP/1.1" 502 166 "-" '
    '"okhttp/4.12.0" rt=30.002',
    "2026/10/07 10:14:09 [error] 31#31: *88412 upstream timed out (110: Connection timed out) "
    'while reading response header from upstream, client: <<ip>>, upstream: "http://<<ip3>>'
    ':9000/api/v1/payments"',
)

_PY_FUNCTIONS = (
    '''def tiered_fee(balance: Decimal) -> Decimal:
    """Annual advisory fee: 1% to 1m, 0.75% to 5m, 0.5% above."""
    bands = [(Decimal("1000000"), Decimal("0.01")), (Decimal("5000000"), Decimal("0.0075"))]
    fee, lower = Decimal(0), Decimal(0)
    for upper, rate in bands:
        if balance > lower:
            fee += (min(balance, upper) - lower) * rate
        lower = upper
    if balance > lower:
        fee += (balance - lower) * Decimal("0.005")
    return fee.quantize(Decimal("0.01"))''',
    """def business_days_between(start: date, end: date, holidays: set[date]) -> int:
    days = 0
    d = start
    while d < end:
        d += timedelta(days=1)
        if d.weekday() < 5 and d not in holidays:
            days += 1
    return days""",
    """def mask_account(account: str) -> str:
    digits = "".join(ch for ch in account if ch.isdigit())
    return "*" * (len(digits) - 4) + digits[-4:]""",
)

_TERRAFORM = """resource "aws_s3_bucket" "statements" {
  bucket = "nb-statements-prod"
  acl    = "public-read"
}

resource "aws_security_group_rule" "db_in" {
  type        = "ingress"
  from_port   = 5432
  to_port     = 5432
  protocol    = "tcp"
  cidr_blocks = ["0.0.0.0/0"]
  security_group_id = aws_security_group.db.id
}"""

_RECON_ROWS = (
    "BRK-20411 | <<client_name>> | acct <<account_no>> | 12,400.00 USD | opened <<date>> | "
    "missing counterparty confirm",
    "BRK-20417 | <<client_name2>> | acct <<account_no2>> | 3,980.55 USD | opened <<date>> | "
    "amount mismatch vs SWIFT MT950",
    "BRK-20433 | <<company>> | acct <<account_no3>> | 250,000.00 USD | opened <<date>> | "
    "duplicate booking",
    "BRK-20440 | <<client_name3>> | acct <<account_no4>> | 75.20 USD | opened <<date>> | fee "
    "not posted",
)

_CHARGEBACK_ROWS = (
    "<<case_no>>  card <<pan>>  $<<amount_small>>  <<merchant>>  reason <<reason_code>>  aged 34d",
    "<<case_no>>  card <<pan2>>  $<<amount_small>>  <<merchant>>  reason <<reason_code>>  aged 41d",
    "<<case_no>>  card <<pan3>>  $<<amount_small>>  <<merchant>>  reason <<reason_code>>  aged 38d",
)


_POLICY_SENTENCES = (
    "This policy applies to all employees, contractors and temporary staff of the bank and its "
    "subsidiaries.",
    "Information is classified as Public, Internal, Confidential or Strictly Confidential.",
    "Client data is Confidential unless a higher classification applies.",
    "Confidential information may only be shared with people who need it to perform their role.",
    "Staff must use only systems and tools approved by Technology Risk for processing bank "
    "information.",
    "Personal e-mail, messaging and cloud accounts must never be used for bank business.",
    "Any suspected loss or disclosure of information must be reported to the Information "
    "Security team within one hour of discovery.",
    "Managers are responsible for ensuring their teams complete the annual training.",
    "Exceptions require written approval from the Chief Information Security Officer and are "
    "reviewed every six months.",
    "Records must be retained in line with the Records Retention Schedule and disposed of "
    "securely at the end of the retention period.",
    "Information barriers separate private-side and public-side functions; staff must not "
    "share inside information across the barrier without Compliance approval.",
    "Breaches of this policy may result in disciplinary action, up to and including dismissal.",
    "The policy owner reviews this document at least annually and after any material change.",
    "Third parties handling bank information must be subject to a contract that includes "
    "equivalent protections.",
    "Printed documents containing Confidential information must be collected from printers "
    "immediately and stored securely.",
    "Generative AI tools may be used only where listed in the AI tool register, and only for "
    "the approved purposes listed for each tool.",
)

_DEPLOY_LOG_LINES = (
    "<<time>>:01Z INFO  deploy: starting rollout of <<service>> <<version>> to <<namespace>>",
    "<<time>>:03Z INFO  helm: upgrade --install <<service>> charts/<<service>> --atomic",
    "<<time>>:05Z INFO  k8s: ReplicaSet <<service>>-<<pod_hash>> scaled to 3",
    "<<time>>:09Z WARN  k8s: Readiness probe failed: HTTP probe failed with statuscode: 503",
    "<<time>>:12Z INFO  app: connecting to config service at <<ip>>:8443",
    "<<time>>:12Z ERROR app: TLS handshake failed: x509: certificate has expired or is not yet "
    "valid",
    "<<time>>:13Z INFO  app: retrying in 2s (attempt 2/5)",
    "<<time>>:20Z ERROR app: config load failed after 5 attempts; exiting",
    "<<time>>:21Z WARN  k8s: Back-off restarting failed container <<service>>",
    "<<time>>:25Z INFO  app: metrics endpoint listening on 0.0.0.0:9102",
    "<<time>>:31Z INFO  app: db pool established to <<ip2>>:5432 (size=10)",
    "<<time>>:44Z WARN  helm: timed out waiting for the condition",
    "<<time>>:45Z ERROR deploy: rollout failed, rolling back to previous revision",
    "<<time>>:52Z INFO  deploy: rollback complete",
)


def _long_lines(lines: tuple[str, ...], low: int, high: int) -> Macro:
    """Many lines drawn with repetition, in order of the bank, like a real log excerpt."""

    def build(s: Slots) -> str:
        picked = sorted(s.rng.choices(range(len(lines)), k=s.rng.randint(low, high)))
        return "\n".join(lines[i] for i in picked)

    return Macro(build, lines)


def _lines(lines: tuple[str, ...], low: int, high: int) -> Macro:
    def build(s: Slots) -> str:
        n = s.rng.randint(low, min(high, len(lines)))
        picked = sorted(s.rng.sample(range(len(lines)), n))
        return "\n".join(lines[i] for i in picked)

    return Macro(build, lines)


MACROS: dict[str, Macro] = {
    "research_note": _paragraphs(_NOTE_SENTENCES, 2, 4),
    "research_bullets": _bullets(_SUMMARY_POINTS, 3, 6),
    "email_lines": Macro(lambda s: " ".join(s.rng.sample(_EMAIL_LINES, 2)), _EMAIL_LINES),
    "call_prep": _bullets(_CALL_PREP, 3, 5),
    "meeting_notes": _bullets(_MEETING_NOTES, 5, 9),
    "incident_text": macro(*_INCIDENTS),
    "sop_step": macro(*_SOP_STEPS),
    "jargon_para": macro(*_JARGON),
    "earnings_excerpt": macro(*_EARNINGS),
    "teaser": macro(*_TEASERS),
    "feedback_block": macro(*_FEEDBACK),
    "credit_memo": macro(*_CREDIT_MEMOS),
    "py_traceback": macro(*_PY_TRACEBACKS),
    "py_traceback_ip": macro(*_PY_TRACEBACKS_IP),
    "java_trace_ip": macro(*_JAVA_TRACES_IP),
    "pod_log": _lines(_POD_LOG_LINES, 4, 7),
    "nginx_log": _lines(_NGINX_LINES, 3, 4),
    "py_function": macro(*_PY_FUNCTIONS),
    "terraform": macro(_TERRAFORM),
    "recon_rows": _lines(_RECON_ROWS, 3, 4),
    "chargeback_rows": _lines(_CHARGEBACK_ROWS, 2, 3),
    "policy_doc": _paragraphs(_POLICY_SENTENCES, 5, 9),
    "deploy_log": _long_lines(_DEPLOY_LOG_LINES, 18, 45),
    **QA_MACROS,
}
