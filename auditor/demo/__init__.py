"""Synthetic bank population and logs for `auditor demo` (never used by detection)."""

from __future__ import annotations

from auditor.demo.generator import DemoFiles, generate_demo

__all__ = ["DemoFiles", "generate_demo"]
