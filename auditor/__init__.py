"""The AI-usage auditor."""

__version__ = "0.1.0"
