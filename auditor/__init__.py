"""The AI-usage auditor."""

import os

__version__ = "0.1.0"

# One BLAS thread per process, set before numpy loads its BLAS (which reads these once). The
# scanner's matrix products are many small ones; scan worker processes are the parallelism,
# and an idle BLAS thread pool beside them made the named-entity recognizer ~25% slower (see
# README, Scan throughput). A value already in the environment wins.
for _variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
del _variable
