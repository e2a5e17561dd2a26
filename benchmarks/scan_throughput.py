"""Scan throughput: stock presidio against the auditor's scanner, like for like.

    .venv/bin/python benchmarks/scan_throughput.py [--texts 3000] [--workers 1,2]
                                                   [--entities A,B,...] [--profile]

Generates the demo month (auditor.demo) and takes N DISTINCT prompt and output texts from it at
random. Every timed run is a fresh child process given the same N texts, and its time runs from
the child's first line to its last result: start-up (imports, model, recognizers, worker
processes) included, no warm-up excluded. Like for like, the same cores on both sides:
  (a) per core: stock presidio's `AnalyzerEngine.analyze` one text at a time in one process,
      against the auditor's scanner (`auditor.scan.parallel.ScanPool`, the path `auditor scan`
      takes, with the demo bank's client register and restricted list) with one worker;
  (b) W cores: stock presidio's `BatchAnalyzerEngine.analyze_iterator(n_process=W)` (spaCy's
      own multiprocessing) against the auditor with W workers;
  (c) the floor: spaCy's NER alone (`spacy.load(model, enable=["ner"])`, `nlp.pipe`) on the
      same texts in one process, the model's own cost that no scanner built on it can go under.
Stock runs in the environment this benchmark was given (numpy's BLAS threads as the
environment says) and again with one BLAS thread per process, as the auditor sets for itself.
Savings from skipping work are separate factors, never in a headline: the reuse of identical
texts is measured on N texts drawn with their duplicates (as a gateway log has them), with
reuse off and on, one worker. Prints texts per second, ratios, start-up and steady-state rates,
peak resident memory per process, and the accuracy of both: on the demo's ground truth and on
the accuracy harness's labelled test split (benchmarks/accuracy.py), scored with the harness's
own `score` (a detection is right when it overlaps a label of the same type), stock from
scan.score_threshold up like ours. `--profile` then measures, in a child process, what the
scanner spends its time on. Nothing reaches the network.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# The BLAS thread variables as this process was given them, before importing the auditor, which
# sets one thread per process (auditor/__init__.py). numpy is imported first, so that its BLAS
# reads them as given: stock presidio runs in the environment it would have on its own.
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
GIVEN_BLAS_ENV = {name: os.environ.get(name) for name in BLAS_VARIABLES}
ONE_BLAS_THREAD = dict.fromkeys(BLAS_VARIABLES, "1")

import accuracy  # noqa: E402  (the harness: scoring and its labelled corpus)
import numpy  # noqa: E402, F401
from accuracy_corpus import Sample, Span, build_corpus  # noqa: E402

from auditor.config import ScanSettings  # noqa: E402

KEY = b"scan-throughput-benchmark-key"
# Demo ground-truth kinds -> the harness's entity types. Account numbers and deal code names
# are scored by the harness as client-register and restricted-list matches, which the demo
# does not configure, so they are left out here.
DEMO_KINDS = {
    "client_name": "PERSON",
    "employee_name": "PERSON",
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    "card_number": "CREDIT_CARD",
    "ssn": "US_SSN",
    "iban": "IBAN_CODE",
    "address": "STREET_ADDRESS",
    "ip_address": "IP_ADDRESS",
}


# --- no network -----------------------------------------------------------------------------------


def offline() -> None:
    """Refuse every network connection, and point tldextract (stock presidio's e-mail check) at
    its bundled suffix list instead of fetching one."""
    import tldextract.tldextract as tx

    tx.TLD_EXTRACTOR = tx.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("network blocked by the benchmark")

    socket.create_connection = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]


# --- texts ----------------------------------------------------------------------------------------


def demo_samples(folder: Path) -> list[Sample]:
    """Every prompt and output text of the demo month, with its ground-truth spans."""
    from auditor.demo.generator import generate_demo
    from auditor.normalize import normalize_openai_chat

    files = generate_demo(folder, people=300)
    lines: dict[str, list[bytes]] = {}
    samples: list[Sample] = []
    for row in files.truth_file.read_text(encoding="utf-8").splitlines():
        truth = json.loads(row)
        if truth["file"] not in lines:
            lines[truth["file"]] = (folder / truth["file"]).read_bytes().splitlines()
        record = normalize_openai_chat(
            json.loads(lines[truth["file"]][truth["line"] - 1]), source_format="openai-chat"
        )
        for field, text in (("prompt", record.prompt_text), ("output", record.output_text)):
            if not text:
                continue
            spans = [
                Span(lb["start"], lb["end"], DEMO_KINDS[lb["kind"]])
                for lb in truth["labels"]
                if lb["field"] == field and lb["kind"] in DEMO_KINDS
            ]
            samples.append(Sample(f"{truth['event_id']}:{field}", text, spans, truth["mode"]))
    return samples


# --- the two scanners, each in its own process ----------------------------------------------------


def peak_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


Found = list[tuple[str, int, int, float]]  # (entity type, start, end, score) per detection


def stock(model: str, texts: list[str], n_process: int = 0) -> dict[str, Any]:
    """Stock presidio, timed from this function's first line (start-up included):
    `analyze()` one text at a time (n_process 0), or `BatchAnalyzerEngine` with spaCy's
    multiprocessing over n_process processes."""
    t0 = time.perf_counter()
    offline()
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    # The model is installed, so presidio's own load() finds it and downloads nothing.
    engine = AnalyzerEngine(
        nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
    )
    startup = time.perf_counter() - t0
    t1 = time.perf_counter()
    if n_process:
        batch = BatchAnalyzerEngine(analyzer_engine=engine)
        results = batch.analyze_iterator(texts, language="en", batch_size=64, n_process=n_process)
    else:
        results = [engine.analyze(text, language="en") for text in texts]
    steady = time.perf_counter() - t1
    found = [[(r.entity_type, r.start, r.end, r.score) for r in rs] for rs in results]
    return {
        "seconds": time.perf_counter() - t0,
        "startup": startup,
        "steady": steady,
        "found": found,
        "peaks": [peak_kib()],
    }


def ours(settings: ScanSettings, texts: list[str], workers: int, dedupe: bool) -> dict[str, Any]:
    """The auditor's scanner through the worker pool, timed from this function's first line
    (start-up of the pool and its workers included)."""
    t0 = time.perf_counter()
    offline()
    from auditor.scan.parallel import ScanPool

    with ScanPool(settings, KEY, workers=workers, dedupe=dedupe) as pool:
        first: list[float] = []
        outcomes = []
        for outcome in pool.scan(texts):
            if not first:
                first.append(time.perf_counter())
            outcomes.append(outcome)
        scanned = pool.stats.scanned
        peaks = list(pool.stats.worker_peak_kib.values()) if workers > 1 else [peak_kib()]
        revision = pool.revision
    end = time.perf_counter()
    failed = sum(o.hits is None for o in outcomes)
    found = [[(h.entity_type, h.start, h.end, h.score) for h in o.hits or ()] for o in outcomes]
    return {
        "seconds": end - t0,
        # Until the first result: the pool, its workers' model and recognizers, one chunk.
        "startup": (first[0] if first else end) - t0,
        "steady": end - (first[0] if first else end),
        "found": found,
        "peaks": peaks,
        "scanned": scanned,
        "failed": failed,
        "revision": revision,
    }


def ner_alone(model: str, texts: list[str]) -> dict[str, Any]:
    """The floor: spaCy's tokenizer and NER only (en_core_web_sm's NER has its own
    embedding layer), nlp.pipe over the texts in one process, start-up included."""
    t0 = time.perf_counter()
    import spacy

    nlp = spacy.load(model, enable=["ner"])
    startup = time.perf_counter() - t0
    t1 = time.perf_counter()
    ents = sum(len(doc.ents) for doc in nlp.pipe(texts, batch_size=64))
    steady = time.perf_counter() - t1
    return {
        "seconds": time.perf_counter() - t0,
        "startup": startup,
        "steady": steady,
        "found": [],
        "ents": ents,
        "peaks": [peak_kib()],
    }


def _child(conn: Connection, fn: Callable[..., dict[str, Any]], args: tuple[Any, ...]) -> None:
    try:
        conn.send(fn(*args))
    except BaseException as exc:  # reported by the parent
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


def in_child(
    fn: Callable[..., dict[str, Any]], *args: Any, env: dict[str, str | None] | None = None
) -> dict[str, Any]:
    """Run fn(*args) in a fresh spawned process: its own memory, nothing loaded before; with
    `env` (None: unset) in its environment instead of this process's values."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args))
    saved = {name: os.environ.get(name) for name in env or {}}
    _set_env(env or {})
    try:
        proc.start()
    finally:
        _set_env(saved)
    child.close()
    result: dict[str, Any] = parent.recv()
    proc.join()
    if "error" in result:
        raise SystemExit(f"{fn.__name__} failed: {result['error']}")
    return result


def _set_env(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# --- accuracy -------------------------------------------------------------------------------------


def predicted(
    found: list[Found], threshold: float, reported: Sequence[str], names_as_person: bool = False
) -> list[list[accuracy.Predicted]]:
    """Detections as the harness scores them. A scanner without STREET_ADDRESS is scored on its
    LOCATION results for street addresses (as the harness does). With `names_as_person` (the
    demo's truth labels the bank's clients, people, as names), a CLIENT_NAME found through the
    client register counts as the PERSON it is."""
    remap = {} if "STREET_ADDRESS" in reported else {"LOCATION": "STREET_ADDRESS"}
    if names_as_person:
        remap["CLIENT_NAME"] = "PERSON"
    return [
        [
            accuracy.Predicted(start, end, remap.get(etype, etype), None)
            for etype, start, end, score in hits
            if score >= threshold
        ]
        for hits in found
    ]


def accuracy_rows(
    samples: list[Sample], preds: list[list[accuracy.Predicted]]
) -> dict[str, accuracy.Counts]:
    counts, _errors = accuracy.score(samples, preds)
    return counts


def f1_table(title: str, by_name: dict[str, dict[str, accuracy.Counts]]) -> str:
    types = sorted(
        {t for counts in by_name.values() for t, c in counts.items() if c.tp + c.fn}
        & set(accuracy.CORE),
        key=accuracy.CORE.index,
    )
    names = list(by_name)
    head = "| entity | labels | " + " | ".join(f"{n} P / R / F1" for n in names) + " |"
    lines = [title, "", head, "|---|---:|" + "---:|" * len(names)]

    def cells(c: accuracy.Counts) -> str:
        return f"{c.precision:.3f} / {c.recall:.3f} / {c.f1:.3f}"

    first = by_name[names[0]]
    for t in types:
        c0 = first.get(t, accuracy.Counts())
        row = [cells(by_name[n].get(t, accuracy.Counts())) for n in names]
        lines.append(f"| {t} | {c0.tp + c0.fn} | " + " | ".join(row) + " |")
    totals = [accuracy.overall(by_name[n], tuple(types)) for n in names]
    lines.append(
        f"| **overall** | {totals[0].tp + totals[0].fn} | "
        + " | ".join(f"**{cells(c)}**" for c in totals)
        + " |"
    )
    return "\n".join(lines)


# --- profile --------------------------------------------------------------------------------------


def profile(settings: ScanSettings, texts: list[str], samples: list[Sample]) -> None:
    """What the scanner spends its time on, measured in one process (see the module doc)."""
    offline()
    from auditor.scan.engine import build_analyzer, build_scanner, load_spacy_model

    scanner = build_scanner(settings, KEY)
    # The very object the scanner runs (cached).
    nlp = load_spacy_model(settings.model, settings.matrix_library)
    unique = list(dict.fromkeys(texts))
    threshold = settings.score_threshold
    print(f"\n## Profile ({len(unique)} distinct texts, one process)\n")

    def rate(fn: Callable[[], object], n: int) -> float:
        fn()  # warm
        t0 = time.perf_counter()
        fn()
        return n / (time.perf_counter() - t0)

    print("spaCy alone, nlp.pipe (texts/s) by batch size and enabled components:\n")
    variants = {
        "all (tok2vec tagger parser attribute_ruler lemmatizer ner)": [],
        "no parser": ["parser"],
        "no parser, no lemmatizer chain (tok2vec tagger attribute_ruler lemmatizer)": [
            "parser",
            "tok2vec",
            "tagger",
            "attribute_ruler",
            "lemmatizer",
        ],
        "tokenizer only (no ner)": list(nlp.pipe_names),
    }
    print("| components | batch 1 | batch 16 | batch 64 | batch 256 |")
    print("|---|---:|---:|---:|---:|")
    for name, disabled in variants.items():
        with nlp.select_pipes(disable=disabled):
            rates = [
                rate(lambda b=b: list(nlp.pipe(unique, batch_size=b)), len(unique))
                for b in (1, 16, 64, 256)
            ]
        print(f"| {name} | " + " | ".join(f"{r:.0f}" for r in rates) + " |")

    print("\nThe whole scanner (scan_many, batch 64), by setting:\n")
    base = scanner.scan_many(unique, 64)
    print("| scanner | texts/s | texts whose hits change | demo F1 | harness F1 |")
    print("|---|---:|---:|---:|---:|")
    harness = build_corpus(split="test").samples
    by_text = {s.text: s for s in samples}
    scored = [by_text[t] for t in unique if t in by_text]
    lemma_chain = ["tok2vec", "tagger", "attribute_ruler", "lemmatizer"]
    variants: list[tuple[str, ScanSettings, list[str]]] = [
        ("as configured", settings, []),
        ("scan.parser = true", settings.model_copy(update={"parser": True}), []),
        ("scan.matrix_library = blis", settings.model_copy(update={"matrix_library": "blis"}), []),
        ("no lemma components (not an option)", settings, lemma_chain),
    ]
    for name, variant, disabled in variants:
        other = scanner if variant is settings else build_scanner(variant, KEY)
        other_nlp = load_spacy_model(variant.model, variant.matrix_library)
        with other_nlp.select_pipes(disable=disabled):
            r = rate(lambda other=other: other.scan_many(unique, 64), len(unique))
            got = other.scan_many(unique, 64)
            changed = sum(
                [(h.entity_type, h.start, h.end, h.score) for h in a]
                != [(h.entity_type, h.start, h.end, h.score) for h in b]
                for a, b in zip(got, base, strict=True)
            )
            demo_found = other.scan_many([s.text for s in scored], 64)
            harness_found = other.scan_many([s.text for s in harness], 64)
        f1s = []
        for smp, fnd in ((scored, demo_found), (harness, harness_found)):
            as_found = [[(h.entity_type, h.start, h.end, h.score) for h in hs] for hs in fnd]
            counts = accuracy_rows(smp, predicted(as_found, threshold, scanner.entities))
            f1s.append(accuracy.overall(counts, accuracy.CORE).f1)
        print(f"| {name} | {r:.0f} | {changed} | {f1s[0]:.3f} | {f1s[1]:.3f} |")

    print("\nRecognizers: milliseconds per text (nlp artifacts computed once beforehand):\n")
    analyzer = build_analyzer(settings)
    arts = [a for _, a in analyzer.nlp_engine.process_batch(unique, "en", batch_size=64)]
    t0 = time.perf_counter()
    list(analyzer.nlp_engine.process_batch(unique, "en", batch_size=64))
    costs = {"(spaCy pipeline, for scale)": time.perf_counter() - t0}
    for rec in analyzer.registry.recognizers:
        t0 = time.perf_counter()
        for text, art in zip(unique, arts, strict=True):
            rec.analyze(text, rec.supported_entities, art)
        costs[rec.name] = time.perf_counter() - t0
    print("| recognizer | ms/text |")
    print("|---|---:|")
    for name, secs in sorted(costs.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {secs * 1000 / len(unique):.2f} |")

    print("\nPre-filter: texts without a capitalised word skip NER (measured, not applied):\n")
    plain = [t for t in unique if not any(w[:1].isupper() for w in t.split())]
    with_ner = scanner.scan_many(plain, 64)
    with nlp.select_pipes(disable=["ner"]):
        without = scanner.scan_many(plain, 64)
    lost = sum(
        len(
            {(h.entity_type, h.start, h.end) for h in a}
            - {(h.entity_type, h.start, h.end) for h in b}
        )
        for a, b in zip(with_ner, without, strict=True)
    )
    print(
        f"{len(plain)} of {len(unique)} distinct texts ({len(plain) / len(unique):.1%}) have no "
        f"capitalised word; skipping NER on them loses {lost} detections."
    )


# --- main -----------------------------------------------------------------------------------------


def profile_in_child(
    settings: ScanSettings, texts: list[str], samples: list[Sample]
) -> dict[str, Any]:
    profile(settings, texts, samples)
    sys.stdout.flush()
    return {}


@dataclass
class Row:
    name: str
    workers: int
    result: dict[str, Any]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=3000, help="distinct demo texts to scan")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    parser.add_argument(
        "--entities", default=None, help="comma-separated scan.entities (default: configured)"
    )
    parser.add_argument("--seed", type=int, default=1, help="which demo texts are drawn")
    parser.add_argument("--profile", action="store_true", help="also profile the scanner")
    args = parser.parse_args()
    offline()
    overrides: dict[str, Any] = {}
    if args.entities:
        overrides["entities"] = [e.strip() for e in args.entities.split(",") if e.strip()]
    settings = ScanSettings(**overrides)
    workers = [int(w) for w in args.workers.split(",")]

    # Kept until the end: the settings name register files in it.
    workdir = tempfile.TemporaryDirectory()
    tmp = Path(workdir.name)
    every = demo_samples(tmp / "demo")
    # The demo bank's client register and restricted list, as `auditor demo` configures them.
    reference = tmp / "demo" / "reference"
    settings = settings.model_copy(
        update={
            "client_register": reference / "client_register.csv",
            "restricted_list": reference / "restricted_list.csv",
        }
    )
    harness_settings = accuracy.scan_settings(build_corpus(split="test"), tmp)
    harness_settings = harness_settings.model_copy(update=overrides)
    rng = random.Random(args.seed)
    rng.shuffle(every)
    # N distinct texts, each with its ground truth (the first sample that has it).
    seen: set[str] = set()
    samples: list[Sample] = []
    for s in every:
        if s.text not in seen and len(samples) < args.texts:
            seen.add(s.text)
            samples.append(s)
    texts = [s.text for s in samples]
    # For the reuse factor only: N texts drawn with their duplicates, as a log has them.
    with_duplicates = [s.text for s in every[: args.texts]]
    harness = build_corpus(split="test").samples
    lengths = sorted(len(t) for t in texts)
    load_before = os.getloadavg()
    print(
        f"# Scan throughput on {os.cpu_count()} CPUs\n\n{len(texts)} distinct demo texts, "
        f"{sum(lengths) // len(lengths)} characters on average, median "
        f"{lengths[len(lengths) // 2]}, longest {lengths[-1]}; spaCy model {settings.model}; "
        f"{len(settings.entities)} entity types reported. Every time includes start-up.\n",
        flush=True,
    )

    def say(what: str) -> None:
        print(f"  … {what}", file=sys.stderr, flush=True)

    def rate(result: dict[str, Any], n: int | None = None) -> float:
        return (n or len(texts)) / result["seconds"]

    say("stock presidio, analyze() per text")
    stock_one = in_child(stock, settings.model, texts, env=GIVEN_BLAS_ENV)
    rows = [Row("stock presidio, analyze() per text, 1 process", 1, stock_one)]
    stock_one_thread = stock_one
    if GIVEN_BLAS_ENV != ONE_BLAS_THREAD:
        say("stock presidio, one BLAS thread")
        stock_one_thread = in_child(stock, settings.model, texts, env=ONE_BLAS_THREAD)
        rows.append(Row("stock presidio, per text, one BLAS thread", 1, stock_one_thread))
    say("auditor, 1 worker")
    ours_one = in_child(ours, settings, texts, 1, False)
    rows.append(Row("auditor, 1 worker", 1, ours_one))
    pairs = [(1, max(stock_one, stock_one_thread, key=rate), ours_one)]
    for w in workers:
        if w < 2:
            continue
        say(f"stock presidio, BatchAnalyzerEngine n_process={w}")
        batch = in_child(stock, settings.model, texts, w, env=ONE_BLAS_THREAD)
        rows.append(Row(f"stock presidio, BatchAnalyzerEngine n_process={w}", w, batch))
        say(f"auditor, {w} workers")
        mine = in_child(ours, settings, texts, w, False)
        rows.append(Row(f"auditor, {w} workers", w, mine))
        pairs.append((w, batch, mine))
    say("spaCy NER alone")
    floor = in_child(ner_alone, settings.model, texts, env=ONE_BLAS_THREAD)
    rows.append(Row("floor: spaCy tokenizer + NER alone, nlp.pipe, 1 process", 1, floor))
    say("reuse of identical texts, 1 worker, off and on")
    reuse_off = in_child(ours, settings, with_duplicates, 1, False)
    reuse_on = in_child(ours, settings, with_duplicates, 1, True)

    print("Headline, like for like (the same distinct texts, start-up included, same cores):\n")
    print("| cores | stock presidio texts/s | auditor texts/s | ratio |")
    print("|---:|---:|---:|---:|")
    for w, theirs, mine in pairs:
        print(f"| {w} | {rate(theirs):.0f} | {rate(mine):.0f} | {rate(mine) / rate(theirs):.1f}× |")
    print(
        "\n(1 core: stock's better of its two BLAS settings; W cores: stock's "
        "BatchAnalyzerEngine with n_process=W and one BLAS thread per process.)\n"
    )
    print(
        "| run | texts scanned | seconds, start-up included | texts/s | start-up s "
        "| steady texts/s | peak RSS per process |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        r = row.result
        mib = ", ".join(f"{p / 1024:.0f}" for p in sorted(r["peaks"]))
        steady = len(texts) / r["steady"] if r["steady"] > 0 else float("nan")
        print(
            f"| {row.name} | {r.get('scanned', len(texts))} | {r['seconds']:.1f} | {rate(r):.0f} "
            f"| {r['startup']:.1f} | {steady:.0f} | {mib} MiB |"
        )
    print(
        f"\nThe floor: spaCy's own tokenizer and NER alone run {rate(floor):.0f} texts/s with "
        f"start-up; the auditor with one worker, which decodes the same NER in numpy "
        f"(ner_decoder.py) and adds every recognizer, the context and the evidence, runs at "
        f"{rate(ours_one) / rate(floor):.0%} of it. Per core the model is the floor: more speed "
        "comes from more workers and machines."
    )
    print(
        f"\nReuse of identical texts, a separate factor (never in the headline): "
        f"{len(with_duplicates)} texts drawn with their duplicates "
        f"({len(set(with_duplicates))} distinct), 1 worker: reuse off "
        f"{rate(reuse_off, len(with_duplicates)):.0f} texts/s, on "
        f"{rate(reuse_on, len(with_duplicates)):.0f} texts/s: "
        f"{reuse_off['seconds'] / reuse_on['seconds']:.2f}× from work not done."
    )
    ours_found = [ours_one["found"]] + [mine["found"] for _, _, mine in pairs[1:]]
    same = all(f == ours_found[0] for f in ours_found)
    same_reuse = reuse_off["found"] == reuse_on["found"]
    failed = sum(row.result.get("failed", 0) for row in rows)
    print(
        f"\nAll auditor runs gave identical detections: {'yes' if same and same_reuse else 'NO'}; "
        f"texts whose scan failed: {failed}; BLAS threads as given: {GIVEN_BLAS_ENV}."
    )
    load_after = os.getloadavg()
    print(
        "Load average (1 min) before and after the timed runs: "
        f"{load_before[0]:.2f}, {load_after[0]:.2f} (other jobs on the machine, if above 0)."
    )

    # Accuracy on the timed runs' own results, and on the harness's labelled test split.
    threshold = settings.score_threshold
    demo = {
        "stock": accuracy_rows(samples, predicted(stock_one["found"], threshold, [])),
        "auditor": accuracy_rows(
            samples,
            predicted(ours_one["found"], threshold, settings.entities, names_as_person=True),
        ),
    }
    say("accuracy harness, both scanners")
    harness_texts = [s.text for s in harness]
    h_stock = in_child(stock, settings.model, harness_texts, env=GIVEN_BLAS_ENV)
    h_ours = in_child(ours, harness_settings, harness_texts, 1, True)
    on_harness = {
        "stock": accuracy_rows(harness, predicted(h_stock["found"], threshold, [])),
        "auditor": accuracy_rows(
            harness, predicted(h_ours["found"], threshold, harness_settings.entities)
        ),
    }
    print()
    print(f1_table(f"Accuracy on the demo's ground truth ({len(samples)} texts above)", demo))
    print()
    print(
        f1_table(
            f"Accuracy on the harness's labelled test split ({len(harness)} texts, "
            "benchmarks/accuracy.py)",
            on_harness,
        )
    )
    print(
        f"\nStock results counted from score {threshold} (scan.score_threshold) up, as ours; "
        "street addresses scored on LOCATION where a scanner has no STREET_ADDRESS."
    )
    if args.profile:
        # In a child with the auditor's one BLAS thread: numpy in this process has the
        # environment as given (see GIVEN_BLAS_ENV).
        in_child(profile_in_child, settings, texts, samples, env=ONE_BLAS_THREAD)
    workdir.cleanup()


if __name__ == "__main__":
    main()
