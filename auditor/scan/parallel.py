"""Scanning many texts across worker processes, each text once, results in input order.

`ScanPool` keeps N worker processes, each with its own `Scanner` built once from the scan
settings and the key (processes are started with "spawn": nothing is inherited from the
parent but those two). Texts stream through it in chunks with a bounded number of chunks in
flight, so memory does not grow with the input and the input can be read from the database
in batches. Identical texts are scanned once per pool (a pool has one scanner revision): a
`Hit` carries offsets relative to its text, so identical texts have identical results. A text
whose scan raises gets a `ScanOutcome` naming the exception's type, never its message (which
could quote the text); the other texts of the run carry on. With one worker everything runs in
this process, without a pool.
"""

from __future__ import annotations

import hashlib
import os
import resource
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from types import TracebackType
from typing import Protocol, TypeVar

from auditor.config import ScanSettings
from auditor.errors import AuditorError, ScanError
from auditor.ops.lifetime import die_with_parent
from auditor.scan.engine import Hit, ScanResult, build_scanner

DEFAULT_BATCH_SIZE = 64  # texts per nlp.pipe batch inside a worker
CHUNKS_IN_FLIGHT_PER_WORKER = 2  # one being scanned, one queued: workers never wait for input
DEFAULT_CACHE_SIZE = 50_000  # results kept for reuse by later identical texts

_T = TypeVar("_T")


class TextScanner(Protocol):
    """What the pool needs of a scanner (`Scanner` is one)."""

    @property
    def revision(self) -> str: ...

    def scan_results(self, texts: Sequence[str], batch_size: int = ...) -> list[ScanResult]: ...


ScannerFactory = Callable[[ScanSettings, bytes], TextScanner]


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What scanning one text gave: its ScanResult's hits, status, reason and how much was
    scanned; or, with hits None, the type name of the exception the scan raised."""

    hits: tuple[Hit, ...] | None
    error: str | None = None
    status: str = "scanned"
    reason_code: str | None = None
    reason: str | None = None
    chars_scanned: int = 0
    text_length: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def of(cls, result: ScanResult) -> ScanOutcome:
        return cls(
            hits=tuple(result.hits),
            status=result.status,
            reason_code=result.reason_code,
            reason=result.reason,
            chars_scanned=result.chars_scanned,
            text_length=result.text_length,
        )

    @classmethod
    def failed(cls, exc: BaseException) -> ScanOutcome:
        # The type only: an exception's message could quote the text.
        return cls(hits=None, error=type(exc).__name__, status="error")


@dataclass
class PoolStats:
    """What a pool did so far, in texts."""

    texts: int = 0  # outcomes returned
    scanned: int = 0  # sent to a scanner
    reused: int = 0  # identical to a text scanned before (or in flight): not scanned again
    failed: int = 0  # outcomes with an error
    worker_peak_kib: dict[int, int] = field(default_factory=dict)  # pid -> peak resident set


@dataclass(slots=True)
class _Pending:
    """One input text waiting for its outcome (in input order)."""

    digest: bytes
    outcome: ScanOutcome | None = None


class _WorkerInitError(Exception):
    """The scanner could not be built in a worker: message and hint of its AuditorError."""


class ScanPool:
    """Worker processes that scan texts with a scanner built from `settings` and `hash_key`.

    `workers` defaults to the number of CPUs; with 1, texts are scanned in this process by
    `scanner` if given (else one built here), and no process is started. With more, `scanner`
    (if given) only fixes the revision the workers must report. Each worker builds its scanner
    with `build(settings, hash_key)`, a module-level function (it is sent to the worker by
    name). Use as a context manager, or call `close()`. Raises ScanError if a worker cannot
    build its scanner, if the workers' scanner revision differs from `scanner`'s, or if a
    worker process dies.
    """

    def __init__(
        self,
        settings: ScanSettings,
        hash_key: bytes,
        workers: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        scanner: TextScanner | None = None,
        build: ScannerFactory = build_scanner,
        chunk_size: int | None = None,
        dedupe: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.batch_size = max(1, batch_size)
        # A chunk is what one worker scans at a time: a few spaCy batches, so that pickling
        # and process hops stay small beside the scanning.
        self.chunk_size = max(1, chunk_size or self.batch_size)
        self.dedupe = dedupe
        self.stats = PoolStats()
        self._cache: OrderedDict[bytes, ScanOutcome] = OrderedDict()
        self._cache_size = max(0, cache_size)
        self._executor: ProcessPoolExecutor | None = None
        self._local: TextScanner | None = None
        if self.workers == 1:
            self._local = scanner or build(settings, hash_key)
            self.revision = self._local.revision
            return
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=get_context("spawn"),
            initializer=_init_worker,
            initargs=(build, settings, hash_key, self.batch_size, os.getpid()),
        )
        try:
            self.revision = _result(self._executor.submit(_worker_revision))
            if scanner is not None and scanner.revision != self.revision:
                raise ScanError(
                    f"the scan workers built scanner revision {self.revision}, "
                    f"this process has {scanner.revision}",
                    "workers must run the same model, recognizers and key; check the install",
                )
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ScanPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (waiting for none of their queued work)."""
        self._local = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def scan(
        self, texts: Iterable[str], progress: Callable[[int], None] | None = None
    ) -> Iterator[ScanOutcome]:
        """One ScanOutcome per text of `texts`, in order, read and scanned as they stream.

        `progress`, if given, is called with the number of outcomes each time some are ready.
        Raises ScanError if a worker process dies.
        """
        pending: deque[_Pending] = deque()
        waiting: dict[bytes, list[_Pending]] = {}  # digest -> inputs awaiting its scan
        in_flight: deque[tuple[list[bytes], Future[_ChunkResult] | _ChunkResult]] = deque()
        chunk_digests: list[bytes] = []
        chunk_texts: list[str] = []
        # In this process a chunk is scanned when submitted: nothing to gain from reading ahead.
        max_in_flight = 1 if self._executor is None else self.workers * CHUNKS_IN_FLIGHT_PER_WORKER
        # Reused texts queue behind a slow one: bound them too, so memory stays flat.
        max_pending = max_in_flight * self.chunk_size * 4

        def submit() -> None:
            in_flight.append((chunk_digests.copy(), self._submit(chunk_texts.copy())))
            chunk_digests.clear()
            chunk_texts.clear()

        def complete_oldest() -> None:
            digests, job = in_flight.popleft()
            result = _result(job) if isinstance(job, Future) else job
            self.stats.worker_peak_kib[result.pid] = max(
                result.peak_kib, self.stats.worker_peak_kib.get(result.pid, 0)
            )
            for digest, outcome in zip(digests, result.outcomes, strict=True):
                if outcome.ok:
                    self._remember(digest, outcome)
                for item in waiting.pop(digest):
                    item.outcome = outcome

        def ready() -> Iterator[ScanOutcome]:
            count = 0
            while pending and pending[0].outcome is not None:
                outcome = pending.popleft().outcome
                assert outcome is not None
                self.stats.texts += 1
                self.stats.failed += int(not outcome.ok)
                count += 1
                yield outcome
            if count and progress is not None:
                progress(count)

        for number, text in enumerate(texts):
            # Without dedupe every text is its own key (its position in this stream).
            digest = _digest(text) if self.dedupe else number.to_bytes(8, "big")
            item = _Pending(digest)
            pending.append(item)
            known = self._cache.get(digest)
            if known is not None:
                self._cache.move_to_end(digest)
                item.outcome = known
                self.stats.reused += 1
            elif digest in waiting:
                waiting[digest].append(item)
                self.stats.reused += 1
            else:
                waiting[digest] = [item]
                chunk_digests.append(digest)
                chunk_texts.append(text)
                self.stats.scanned += 1
                if len(chunk_texts) >= self.chunk_size:
                    submit()
            if len(pending) >= max_pending and chunk_texts and not in_flight:
                # Texts held back for a full chunk block results that wait on them (many
                # copies of few texts): send the partial chunk rather than read on unbounded.
                submit()
            while in_flight and (len(in_flight) >= max_in_flight or len(pending) >= max_pending):
                complete_oldest()
            yield from ready()
        if chunk_texts:
            submit()
        while in_flight:
            complete_oldest()
            yield from ready()

    def _submit(self, texts: list[str]) -> Future[_ChunkResult] | _ChunkResult:
        if self._executor is None:
            if self._local is None:
                raise ScanError("the scan pool is closed", "open a new ScanPool")
            return _scan_chunk_with(self._local, texts, self.batch_size)
        return self._executor.submit(_scan_chunk, texts)

    def _remember(self, digest: bytes, outcome: ScanOutcome) -> None:
        if self._cache_size == 0 or not self.dedupe:
            return
        self._cache[digest] = outcome
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def scan_texts(
    settings: ScanSettings,
    hash_key: bytes,
    texts: Iterable[str],
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> Iterator[ScanOutcome]:
    """One ScanOutcome per text, in order, scanned by `workers` processes (default: all CPUs;
    1: in this process). The pool lives as long as the iteration.

    Raises ScanError as ScanPool does.
    """
    with ScanPool(settings, hash_key, workers, batch_size) as pool:
        yield from pool.scan(texts, progress)


# --- the worker side --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ChunkResult:
    outcomes: list[ScanOutcome]
    pid: int
    peak_kib: int


_worker_scanner: TextScanner | None = None
_worker_batch_size = DEFAULT_BATCH_SIZE
_worker_init_error: tuple[str, str | None] | None = None


def _init_worker(
    build: ScannerFactory,
    settings: ScanSettings,
    hash_key: bytes,
    batch_size: int,
    parent_pid: int,
) -> None:
    """Build this worker's scanner once. A failure is kept and reported by the first task:
    an initializer that raises leaves the pool broken with no reason given."""
    global _worker_scanner, _worker_batch_size, _worker_init_error
    die_with_parent(parent_pid)
    _worker_batch_size = batch_size
    try:
        _worker_scanner = build(settings, hash_key)
    except AuditorError as exc:
        _worker_init_error = (exc.message, exc.hint)
    except Exception as exc:  # reported by type only, as everywhere in the scanner
        _worker_init_error = (f"building the scanner raised {type(exc).__name__}", None)


def _ready_scanner() -> TextScanner:
    if _worker_scanner is None:
        message, hint = _worker_init_error or ("the scan worker was not initialised", None)
        raise _WorkerInitError(message, hint)
    return _worker_scanner


def _worker_revision() -> str:
    return _ready_scanner().revision


def _scan_chunk(texts: list[str]) -> _ChunkResult:
    return _scan_chunk_with(_ready_scanner(), texts, _worker_batch_size)


def _scan_chunk_with(scanner: TextScanner, texts: list[str], batch_size: int) -> _ChunkResult:
    """Scan `texts` in spaCy batches; if a batch raises, scan its texts one by one so that
    only the text that fails is reported as failed."""
    outcomes: list[ScanOutcome] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        try:
            outcomes.extend(ScanOutcome.of(r) for r in scanner.scan_results(batch, batch_size))
        except Exception:
            for text in batch:
                try:
                    outcomes.append(ScanOutcome.of(scanner.scan_results([text], 1)[0]))
                except Exception as exc:  # recorded as failed, never a silent pass
                    outcomes.append(ScanOutcome.failed(exc))
    return _ChunkResult(outcomes, os.getpid(), _peak_kib())


def _peak_kib() -> int:
    """This process's peak resident set size so far, in KiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS


def _digest(text: str) -> bytes:
    # surrogatepass: JSON logs can carry lone surrogates, which must hash, not crash.
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _result(job: Future[_T]) -> _T:
    try:
        return job.result()
    except _WorkerInitError as exc:
        message, hint = exc.args
        raise ScanError(message, hint) from None
    except BrokenProcessPool:
        raise ScanError(
            "a scan worker process died",
            "it may have run out of memory: lower --workers or scan.max_text_chars",
        ) from None


__all__ = ["PoolStats", "ScanOutcome", "ScanPool", "ScannerFactory", "TextScanner", "scan_texts"]
