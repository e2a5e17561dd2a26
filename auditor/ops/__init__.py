"""Scheduled operation: the run lock (more of the operations stage lives here as it grows)."""
