"""The one registry of log readers.

Built-in readers are the modules of this package, each registering itself with `@register`,
exactly as a third-party reader would through the `auditor.readers` entry-point group.
Adding a format is a new module; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from pathlib import Path

from auditor.errors import InputError
from auditor.ingest.base import Reader, read_head

_READERS: dict[str, type[Reader]] = {}
_LOADED = False
_INFRASTRUCTURE = {"base", "registry", "stage", "export", "csvrows", "litellm_db"}


def register(cls: type[Reader]) -> type[Reader]:
    """Class decorator: make a reader available under `cls.name`."""
    existing = _READERS.get(cls.name)
    if existing is not None and existing is not cls:
        raise InputError(f"two readers claim the format name {cls.name!r}")
    _READERS[cls.name] = cls
    return cls


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module("auditor.ingest")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _INFRASTRUCTURE:
            importlib.import_module(f"auditor.ingest.{info.name}")
    for ep in entry_points(group="auditor.readers"):
        register(ep.load())
    _LOADED = True


def available() -> dict[str, type[Reader]]:
    """Format name -> reader class, built-ins and plugins."""
    _load()
    return dict(sorted(_READERS.items()))


def get_reader(name: str) -> Reader:
    """The reader for a format name. Raises InputError listing the known formats."""
    readers = available()
    if name not in readers:
        known = ", ".join(readers)
        raise InputError(f"unknown log format {name!r}", f"known formats: {known}")
    return readers[name]()


def detect_format(path: Path) -> Reader | None:
    """The reader whose `sniff` accepts the start of the file, or None if no reader does.

    Raises InputError if several readers claim the file (pass --format to choose).
    """
    try:
        head = read_head(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    matches = [cls() for cls in available().values() if cls().sniff(head)]
    if len(matches) > 1:
        names = ", ".join(r.name for r in matches)
        raise InputError(f"{path}: several log formats match ({names})", "pass --format NAME")
    return matches[0] if matches else None
