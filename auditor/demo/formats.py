"""The demo month in the formats firms really have.

`generate_demo` writes every interaction once, as gateway JSON Lines (`openai-chat`), with a
ground-truth file pointing into them. This module re-expresses the approved tools' records
the way each would reach an auditor at a bank:

| tool | arrives as | reader |
|---|---|---|
| chatgpt-enterprise | ChatGPT Enterprise Compliance API export | `chatgpt-compliance` |
| copilot-business | OpenTelemetry GenAI spans from the IDE collector | `otel` |
| claude-enterprise, coding | Claude Code telemetry (OTLP log events) | `claude-code` |
| claude-enterprise, other work | an internal app traced in Langfuse | `langfuse` |
| atlas-internal | the LiteLLM proxy's spend logs | `litellm` |
| prohibited, pending tools | web-proxy JSON Lines, with the malformed lines | `openai-chat` |

Each source names tools its own way; `DEMO_TOOL_MAP` is the firm's `ingest.tool_map` that
maps those names to the policy registry's tool ids, as a real deployment would configure.
"""

from __future__ import annotations

import importlib
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.demo.generator import DemoFiles

# (tool, workflow or None for any) -> writer module in auditor.demo.writers
ROUTES: tuple[tuple[str, str | None, str], ...] = (
    ("chatgpt-enterprise", None, "chatgpt_compliance"),
    ("copilot-business", None, "otel"),
    ("claude-enterprise", "coding", "claude_code"),
    ("claude-enterprise", None, "langfuse"),
    ("atlas-internal", None, "litellm"),
)

# How each source names the tools above -> the policy registry's ids.
DEMO_TOOL_MAP: dict[str, str] = {
    "chatgpt": "chatgpt-enterprise",
    "claude-code": "claude-enterprise",
}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    source_format: str
    interactions: int


def _writer(module: str) -> tuple[str, str, Callable[[Sequence[dict[str, Any]], Path], int]]:
    mod = importlib.import_module(f"auditor.demo.writers.{module}")
    return mod.FORMAT, mod.SUFFIX, mod.write


def _route(record: dict[str, Any]) -> str | None:
    for tool, workflow, module in ROUTES:
        if record.get("tool") == tool and workflow in (None, record.get("workflow")):
            return module
    return None


def write_sources(files: DemoFiles, out_dir: Path) -> list[SourceFile]:
    """Write the demo's gateway records in their sources' formats under `out_dir`; return
    those files plus the web-proxy logs, which stay as they are (with the malformed lines)."""
    routed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    sources: list[SourceFile] = []
    for path in files.log_files:
        if path.name.startswith("gateway"):
            for line in path.read_bytes().splitlines():
                record = json.loads(line)  # gateway files hold only valid records
                module = _route(record)
                if module is None:
                    raise ValueError(f"no demo route for tool {record.get('tool')!r}")
                routed[module].append(record)
        else:
            sources.append(SourceFile(path, "openai-chat", -1))
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.iterdir():
        if stale.is_file():
            stale.unlink()
    for module in sorted(routed):
        fmt, suffix, write = _writer(module)
        target = out_dir / f"{module.replace('_', '-')}-{files.period}{suffix}"
        count = write(routed[module], target)
        sources.append(SourceFile(target, fmt, count))
    return sources
