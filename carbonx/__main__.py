"""`python -m carbonx` is the `carbonx` command."""

import sys

from carbonx.cli import main

sys.exit(main())
