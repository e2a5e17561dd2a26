import sys

from auditor.cli import main

# The exit code is the CLI's: `python -m auditor` used to exit 0 whatever happened.
sys.exit(main())
