"""`python -m labflow ...`: see labflow/tools/cli.py."""

import sys

from labflow.tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
