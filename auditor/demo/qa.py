"""Question-and-answer pairs for the demo templates: many short everyday asks, each with a
reply that fits it, so the same template reads differently from one interaction to the next.

Each family gives two macros, `<<name_q>>` and `<<name_a>>`, that pick the same pair.
"""

from __future__ import annotations

from auditor.demo.content import Macro, paired

SOFTEN = (
    (
        "'As per my last email, which you may have missed, the deadline was yesterday. Please "
        "action ASAP.'",
        '"Just following up on my earlier email — the deadline was yesterday, so could you let '
        "me know when you expect to have this done? Happy to help if anything is blocking "
        'you."',
    ),
    (
        "'This is the third time I've asked for the figures. I can't finish the report without "
        "them.'",
        "\"Could you send the figures when you get a moment? They're the last piece I need to "
        'finish the report, so anything you can share today would be a great help."',
    ),
    (
        "'Not sure why this wasn't escalated. It should have been obvious.'",
        '"Can we talk through how this one was handled? I think it met the escalation '
        "criteria, and I'd like to understand what we could make clearer in the process.\"",
    ),
    (
        "'Please stop replying-all to the whole distribution list.'",
        '"A small request: for replies that only concern a few people, could we take them off '
        "the wider list? It helps keep everyone's inbox manageable.\"",
    ),
    (
        "'Your numbers don't match mine. Check them again.'",
        "\"I'm getting different totals from the ones you sent — could we compare our "
        'workings? I may be using a different cut-off date."',
    ),
)

EXCEL = (
    (
        "Excel formula: flag rows where column D differs from column F by more than 0.5%",
        'In G2: `=IF(ABS(D2-F2)>0.005*ABS(F2),"BREAK","")` and fill down. If F can be '
        'zero, use `=IF(F2=0,IF(D2=0,"","BREAK"),IF(ABS(D2/F2-1)>0.005,"BREAK",""))`.',
    ),
    (
        "excel: look up the trade ref in column A on the Bookings sheet and return the status "
        "from column E, show 'MISSING' if not found",
        '`=XLOOKUP(A2,Bookings!A:A,Bookings!E:E,"MISSING")` — if you\'re on an older Excel '
        'without XLOOKUP: `=IFERROR(INDEX(Bookings!E:E,MATCH(A2,Bookings!A:A,0)),"MISSING")`.',
    ),
    (
        "Formula to sum column C where column A is 'FX' and the date in column B is in the "
        "current month?",
        '`=SUMIFS(C:C,A:A,"FX",B:B,">="&EOMONTH(TODAY(),-1)+1,B:B,"<="&EOMONTH(TODAY(),0))`',
    ),
    (
        "How many business days between the dates in B2 and C2, excluding the holidays listed "
        "in H2:H20?",
        "`=NETWORKDAYS(B2,C2,$H$2:$H$20)` counts both start and end days; subtract 1 if you "
        "want the days elapsed. For non-standard weekends use `NETWORKDAYS.INTL`.",
    ),
    (
        "Highlight duplicate account numbers in column A (conditional formatting formula)",
        "Select column A, then Conditional Formatting → New Rule → Use a formula: "
        "`=COUNTIF($A:$A,$A1)>1` and choose a fill colour. Stored as text vs number will not "
        "match, so make the column consistent first.",
    ),
    (
        "split 'LAST, First' in column A into two columns",
        'Last name: `=TRIM(LEFT(A2,FIND(",",A2)-1))`; first name: '
        '`=TRIM(MID(A2,FIND(",",A2)+1,100))`. In Excel 365, `=TEXTSPLIT(A2,", ")` does both.',
    ),
)

AGENDA = (
    (
        "Write an agenda for our quarterly operational risk committee, 90 minutes.",
        "1. Minutes and actions from last meeting (10 min)\n2. Risk appetite dashboard and "
        "breaches (20 min)\n3. Incidents and losses this quarter (20 min)\n4. Key risk "
        "indicators and trends (15 min)\n5. Control testing results and open audit issues "
        "(15 min)\n6. Emerging risks, including AI tools (5 min)\n7. AOB (5 min)",
    ),
    (
        "Agenda for a half-day team offsite: priorities for next year, what went well/badly, "
        "some team building. About 10 people.",
        "09:00 Welcome and objectives\n09:15 Retrospective: what went well, what didn't "
        "(small groups)\n10:15 Break\n10:30 Priorities for next year — propose, then vote\n"
        "11:30 Team activity\n12:15 Agree top 3 priorities and owners\n12:45 Close and lunch",
    ),
    (
        "Draft an agenda for the annual review meeting with our market data vendor.",
        "1. Service performance vs SLA (incidents, latency, data quality)\n2. Usage and "
        "licence review — entitlements actually used\n3. Commercials and renewal terms\n4. "
        "Roadmap and upcoming changes\n5. Information security and resilience (DORA "
        "register details)\n6. Actions and owners",
    ),
    (
        "Kick-off meeting agenda for the chargeback workflow replacement project, 60 min.",
        "1. Introductions and roles (5 min)\n2. Why we're doing this: current pain points "
        "(10 min)\n3. Scope and out of scope (10 min)\n4. Milestones and dependencies (15 min)"
        "\n5. Risks and how we'll track them (10 min)\n6. Ways of working and next steps "
        "(10 min)",
    ),
)

PROOFREAD = (
    (
        "Proofread: 'The team have completed there review of the the controls and no "
        "significant issues was identified, however some minor improvements are recommended.'",
        '"The team has completed its review of the controls and no significant issues were '
        'identified; however, some minor improvements are recommended."\n\nChanges: '
        "'there' → 'its', removed the duplicated 'the', 'was' → 'were', and a semicolon "
        "before 'however'.",
    ),
    (
        "Can you fix the grammar: 'Each of the analysts are required to attest, this must be "
        "done before friday.'",
        '"Each of the analysts is required to attest, and this must be done before Friday."',
    ),
    (
        "Proofread this for a management pack: 'Volumes increased by 12% QoQ driven by "
        "seasonal effects and a one off client migration which completed in september.'",
        '"Volumes increased by 12% quarter on quarter, driven by seasonal effects and a '
        'one-off client migration that completed in September."',
    ),
)

FINANCE_CONCEPTS = (
    (
        "what's the difference between CET1 and Tier 1 capital",
        "CET1 (Common Equity Tier 1) is the highest-quality capital: common shares, retained "
        "earnings and other reserves, minus regulatory deductions. Tier 1 = CET1 + Additional "
        "Tier 1 (AT1) instruments, such as perpetual contingent convertible bonds, which absorb "
        "losses on a going-concern basis but aren't common equity.",
    ),
    (
        "Explain convexity to a junior analyst with a simple numerical example.",
        "Duration gives the price change for a small yield move; convexity corrects for the "
        "curvature.\n\nExample: modified duration 7, convexity 60. For +1%: −7 × 1% + ½ × 60 × "
        "(1%)² = −6.7%. For −1%: +7% + 0.3% = +7.3%. Positive convexity means you gain more "
        "when yields fall than you lose when they rise.",
    ),
    (
        "SOFR vs SONIA — key differences in a table please",
        "| | SOFR | SONIA |\n|---|---|---|\n| Currency | USD | GBP |\n| Administrator | NY "
        "Fed | Bank of England |\n| Based on | Secured overnight repo | Unsecured overnight "
        "deposits |\n| Term rates | CME Term SOFR widely used | Term SONIA exists, less used |",
    ),
    (
        "VaR vs expected shortfall — why did FRTB switch?",
        "VaR gives the loss threshold at a confidence level but says nothing about losses "
        "beyond it, and it isn't subadditive. Expected shortfall averages the losses in the "
        "tail, so it captures fat tails and rewards diversification properly. FRTB replaced "
        "99% VaR with 97.5% ES, calibrated to a stress period.",
    ),
    (
        "LCR vs NSFR in two sentences each",
        "**LCR**: high-quality liquid assets must cover net cash outflows over a 30-day stress; "
        "it tests short-term survival.\n\n**NSFR**: available stable funding must exceed "
        "required stable funding over one year; it limits reliance on short-term wholesale "
        "funding.",
    ),
    (
        "What is the CDS-bond basis and why would it go negative?",
        "The basis is the CDS spread minus the bond's spread over the risk-free curve. It goes "
        "negative when bonds cheapen relative to CDS — typically when balance sheets or "
        "funding are scarce and investors sell bonds — which makes 'buy bond, buy protection' "
        "look attractive but costly to fund.",
    ),
    (
        "Explain IFRS 9 stages 1, 2 and 3 simply",
        "Stage 1: performing loans, 12-month expected credit loss.\nStage 2: significant "
        "increase in credit risk since origination, lifetime expected loss.\nStage 3: "
        "credit-impaired (defaulted), lifetime expected loss and interest on the net amount.",
    ),
    (
        "Why does an inverted yield curve predict recessions? Short answer.",
        "It reflects expectations that policy rates will fall, usually because growth is "
        "expected to weaken; it also squeezes bank margins (borrow short, lend long), which "
        "tightens credit. It has preceded most US recessions, with variable and long lags.",
    ),
    (
        "what is a repo, in plain english",
        "A repo is a short-term secured loan: one party sells securities and agrees to buy "
        "them back later at a slightly higher price. The difference is the interest; the "
        "securities are the collateral.",
    ),
)

REGULATION = (
    (
        "Summarise FINRA Rule 2210's requirements for retail communications in plain English.",
        "- **Approval:** a principal approves retail communications before use.\n- "
        "**Content:** fair and balanced; no false, exaggerated or promissory claims.\n- "
        "**Filing:** some communications must be filed with FINRA.\n- **Records:** keep "
        "copies and approval evidence.\n\nAI-drafted material is treated like any other "
        "communication.",
    ),
    (
        "What does DORA require for the register of information on ICT third-party providers?",
        "Under DORA Article 28, firms keep a register of all contractual arrangements for ICT "
        "services from third parties, at entity and group level, flag those supporting "
        "critical or important functions, and report it to the competent authority using the "
        "ITS templates.",
    ),
    (
        "What does Article 4 of the EU AI Act (AI literacy) actually require from us?",
        "Providers and deployers must take measures to ensure a sufficient level of AI "
        "literacy among staff who operate or use AI systems, taking into account their "
        "knowledge, experience and the context of use. In practice: role-based training, "
        "records of who completed it, and refreshers when tools change.",
    ),
    (
        "Explain MiFID II best execution obligations for an equity desk, briefly.",
        "Take all sufficient steps to obtain the best possible result for clients, considering "
        "price, costs, speed, likelihood of execution and settlement, size and nature. Have an "
        "execution policy, monitor its effectiveness, and be able to demonstrate compliance on "
        "request.",
    ),
    (
        "GDPR Article 22 — does it stop us using a model for credit decisions?",
        "Not outright. It gives people the right not to be subject to decisions based solely "
        "on automated processing with legal or similarly significant effects, unless an "
        "exception applies (contract, law, explicit consent). Even then you need safeguards: "
        "human intervention on request, the right to contest, and meaningful information "
        "about the logic.",
    ),
    (
        "Summarise the SEC off-channel communications enforcement in a few lines for a "
        "training slide.",
        "- Firms were fined for staff using personal messaging apps for business.\n- The "
        "failure was recordkeeping (Rule 17a-4) and supervision.\n- Lesson: business "
        "communications happen only on approved, captured channels — including AI tools used "
        "to draft them.",
    ),
)

DEV_CONCEPTS = (
    (
        "asyncio vs threads in python — which for calling 200 REST endpoints?",
        "Both work because the job is I/O-bound. asyncio with `httpx.AsyncClient` and a "
        "`Semaphore` to cap concurrency is the most efficient; a `ThreadPoolExecutor` with "
        "`requests` is simpler if the rest of your code is synchronous. Either way, limit "
        "concurrency and add timeouts.",
    ),
    (
        "Why should we use Decimal rather than float for money in Python?",
        "Floats are binary and can't represent most decimal fractions exactly, so `0.1 + 0.2 "
        "!= 0.3` and rounding errors accumulate. `Decimal` keeps exact decimal values and lets "
        "you choose the rounding mode (e.g. `ROUND_HALF_EVEN`). Build it from strings, not "
        "floats.",
    ),
    (
        "What's an idempotency key and do we need one for the payments API?",
        "A client-supplied unique key sent with a request so the server can recognise "
        "retries and return the original result instead of acting twice. For payments, yes: "
        "network timeouts make clients retry, and without it a retry can pay twice.",
    ),
    (
        "git rebase vs merge for feature branches?",
        "Rebase rewrites your branch on top of main for a linear history — good for private "
        "branches before review. Merge keeps the true history and never rewrites shared "
        "commits. Common rule: rebase locally, merge (or squash-merge) into main.",
    ),
    (
        "How do multi-stage Docker builds reduce image size?",
        "You build in one stage with compilers and dev dependencies, then copy only the built "
        "artefacts into a slim runtime stage. The final image carries none of the build "
        "tools, which shrinks it and reduces the attack surface.",
    ),
    (
        "explain what a race condition is with a banking example",
        "Two requests read the same balance ($100) at once, each withdraws $80 and writes "
        "back $20. Both succeed and the account paid out $160. Fix: do the check and update "
        "atomically (`UPDATE ... SET balance = balance - 80 WHERE balance >= 80`) or lock the "
        "row.",
    ),
    (
        "Regex for our trade refs: 3 letters, dash, 8 digits, optional -R and a digit at the end",
        "`^[A-Z]{3}-\\d{8}(?:-R\\d)?$`\n\nAnchors make it match the whole string; the "
        "non-capturing group makes the `-R1` suffix optional.",
    ),
    (
        "bash one-liner: count lines containing ERROR per file in /var/log/app/*.log",
        "`grep -c ERROR /var/log/app/*.log` prints `file:count` for each file. Sort by count: "
        "`grep -c ERROR /var/log/app/*.log | sort -t: -k2 -nr`.",
    ),
    (
        "What's the difference between a unit test and an integration test, practically?",
        "A unit test checks one piece of logic in isolation and runs in milliseconds. An "
        "integration test runs real components together — a real database, a real HTTP "
        "call — and catches wiring and configuration errors that unit tests can't.",
    ),
)

MEETING_TOPICS = (
    ("our portfolio review", "our portfolio review"),
    ("the annual suitability review", "your annual suitability review"),
    ("a call about the trust restructuring", "our call about the trust restructuring"),
    ("the onboarding meeting for the new account", "our onboarding meeting"),
    ("a catch-up on their retirement plan", "our catch-up on your retirement plan"),
)

QA_MACROS: dict[str, Macro] = {}
for _name, _pairs in (
    ("soften", SOFTEN),
    ("excel", EXCEL),
    ("agenda", AGENDA),
    ("proof", PROOFREAD),
    ("concept", FINANCE_CONCEPTS),
    ("reg", REGULATION),
    ("dev", DEV_CONCEPTS),
    ("topic", MEETING_TOPICS),
):
    QA_MACROS[f"{_name}_q"], QA_MACROS[f"{_name}_a"] = paired(_name, _pairs)
