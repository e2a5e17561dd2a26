"""Scan throughput: stock presidio against the auditor's scanner, same machine, same texts.

    .venv/bin/python benchmarks/scan_throughput.py [--texts 3000] [--workers 1,2,4]
                                                   [--entities A,B,...] [--profile]

Generates the demo month (auditor.demo) and takes N of its prompt and output texts at random,
duplicates and all, as a gateway log has them. Then, each in a fresh child process and after
a warm-up:
  (a) stock presidio: `AnalyzerEngine` with the installed spaCy model (scan.model, loaded
      without downloading) and its default recognizers, `.analyze(text, language="en")` one
      text at a time, in the environment this benchmark was given (numpy's BLAS with as many
      threads as the environment says, by default one per core), and again with one BLAS
      thread per process, the setting the auditor makes for itself (auditor/__init__.py);
  (b) the auditor's scanner (with the demo bank's client register and restricted list, as
      `auditor demo` configures it) through `auditor.scan.parallel.ScanPool` with 1, 2, 4
      workers, with and without reuse of identical texts: the path `auditor scan` takes.
Prints texts per second, the ratio (b)/(a), start-up time and peak resident memory per
worker, and the accuracy of both: on the demo's ground truth (demo/truth/labels.jsonl
offsets into these texts) and on the accuracy harness's labelled test split
(benchmarks/accuracy.py), scored with the harness's own `score` function (a detection is
right when it overlaps a label of the same type). Stock results are scored from
scan.score_threshold up, like ours. `--profile` then measures, in a child process, what the
scanner spends its time on: spaCy pipeline components, nlp.pipe batch size, the settings
scan.parser and scan.matrix_library, each recognizer, and a capital-letter pre-filter before
NER. Nothing reaches the network.
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

import numpy  # noqa: E402, F401

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy  # noqa: E402  (the harness: scoring and its labelled corpus)
from accuracy_corpus import Sample, Span, build_corpus  # noqa: E402

from auditor.config import ScanSettings  # noqa: E402

KEY = b"scan-throughput-benchmark-key"
WARM_UP_TEXTS = 64
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


def stock(model: str, texts: list[str], warm: list[str]) -> dict[str, Any]:
    """Stock presidio, one text at a time."""
    offline()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    t0 = time.perf_counter()
    # The model is installed, so presidio's own load() finds it and downloads nothing.
    engine = AnalyzerEngine(
        nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
    )
    for text in warm:
        engine.analyze(text, language="en")
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = [engine.analyze(text, language="en") for text in texts]
    seconds = time.perf_counter() - t0
    found = [[(r.entity_type, r.start, r.end, r.score) for r in rs] for rs in results]
    return {"seconds": seconds, "startup": startup, "found": found, "peaks": [peak_kib()]}


def ours(
    settings: ScanSettings, texts: list[str], warm: list[str], workers: int, dedupe: bool
) -> dict[str, Any]:
    """The auditor's scanner through the worker pool."""
    offline()
    from auditor.scan.parallel import ScanPool

    t0 = time.perf_counter()
    with ScanPool(settings, KEY, workers=workers, dedupe=dedupe) as pool:
        # Two chunks per worker, so that every worker has started and scanned before timing.
        list(pool.scan(warm[: 2 * pool.chunk_size * workers]))
        startup = time.perf_counter() - t0
        before = pool.stats.scanned
        t0 = time.perf_counter()
        outcomes = list(pool.scan(texts))
        seconds = time.perf_counter() - t0
        scanned = pool.stats.scanned - before
        peaks = list(pool.stats.worker_peak_kib.values()) if workers > 1 else [peak_kib()]
        revision = pool.revision
    failed = sum(o.hits is None for o in outcomes)
    found = [[(h.entity_type, h.start, h.end, h.score) for h in o.hits or ()] for o in outcomes]
    return {
        "seconds": seconds,
        "startup": startup,
        "found": found,
        "peaks": peaks,
        "scanned": scanned,
        "failed": failed,
        "revision": revision,
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
    parser.add_argument("--texts", type=int, default=3000, help="demo texts to scan")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure")
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
    samples = every[: args.texts]
    texts = [s.text for s in samples]
    # Warm-up texts that are not among the measured ones: a reused result must not be primed.
    measured = set(texts)
    warm = list(dict.fromkeys(s.text for s in every[args.texts :] if s.text not in measured))
    harness = build_corpus(split="test").samples
    lengths = sorted(len(t) for t in texts)
    load_before = os.getloadavg()
    print(
        f"# Scan throughput on {os.cpu_count()} CPUs\n\n{len(texts)} demo texts "
        f"({len(set(texts))} distinct), {sum(lengths) // len(lengths)} characters on average, "
        f"median {lengths[len(lengths) // 2]}, longest {lengths[-1]}; spaCy model "
        f"{settings.model}; {len(settings.entities)} entity types reported.\n",
        flush=True,
    )

    def say(what: str) -> None:
        print(f"  … {what}", file=sys.stderr, flush=True)

    say("stock presidio")
    stock_run = in_child(stock, settings.model, texts, warm[:WARM_UP_TEXTS], env=GIVEN_BLAS_ENV)
    rows = [Row("stock presidio, analyze() per text", 1, stock_run)]
    if GIVEN_BLAS_ENV != ONE_BLAS_THREAD:
        say("stock presidio, one BLAS thread")
        tuned = in_child(stock, settings.model, texts, warm[:WARM_UP_TEXTS], env=ONE_BLAS_THREAD)
        rows.append(Row("stock presidio, one BLAS thread (as the auditor sets it)", 1, tuned))
    stock_rows = len(rows)
    for w in workers:
        for dedupe in (False, True):
            say(f"auditor, {w} worker(s), reuse {'on' if dedupe else 'off'}")
            rows.append(
                Row(
                    f"auditor, {w} worker{'s' if w > 1 else ''}"
                    + (", identical texts reused" if dedupe else ", every text scanned"),
                    w,
                    in_child(ours, settings, texts, warm, w, dedupe),
                )
            )
    base = len(texts) / rows[0].result["seconds"]
    print(
        "| scanner | texts scanned | seconds | texts/s | ratio | start-up + warm-up s "
        "| peak RSS per worker |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        r = row.result
        tps = len(texts) / r["seconds"]
        mib = ", ".join(f"{p / 1024:.0f}" for p in sorted(r["peaks"]))
        print(
            f"| {row.name} | {r.get('scanned', len(texts))} | {r['seconds']:.1f} | {tps:.0f} "
            f"| {tps / base:.1f}× | {r['startup']:.1f} | {mib} MiB |"
        )
    ours_found = [row.result["found"] for row in rows[stock_rows:]]
    same = all(f == ours_found[0] for f in ours_found)
    failed = sum(row.result.get("failed", 0) for row in rows[stock_rows:])
    best = max(rows[stock_rows:], key=lambda row: len(texts) / row.result["seconds"])
    best_rate = len(texts) / best.result["seconds"]
    print(
        "\nBest auditor run: "
        + ", ".join(
            f"{best_rate / (len(texts) / row.result['seconds']):.1f}× {row.name}"
            for row in rows[:stock_rows]
        )
        + f"; BLAS threads as given: {GIVEN_BLAS_ENV}."
    )
    print(
        f"\nAll auditor runs gave identical detections: {'yes' if same else 'NO'}; "
        f"texts whose scan failed: {failed}."
    )
    load_after = os.getloadavg()
    print(
        "Load average (1 min) before and after the timed runs: "
        f"{load_before[0]:.2f}, {load_after[0]:.2f} (other jobs on the machine, if above 0)."
    )

    # Accuracy on the timed runs' own results, and on the harness's labelled test split.
    threshold = settings.score_threshold
    demo = {
        "stock": accuracy_rows(samples, predicted(rows[0].result["found"], threshold, [])),
        "auditor": accuracy_rows(
            samples, predicted(ours_found[0], threshold, settings.entities, names_as_person=True)
        ),
    }
    say("accuracy harness, both scanners")
    harness_texts = [s.text for s in harness]
    h_stock = in_child(stock, settings.model, harness_texts, warm[:8], env=GIVEN_BLAS_ENV)
    h_ours = in_child(ours, harness_settings, harness_texts, warm[:8], 1, True)
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
