"""`python -m streams.cli`: the same as the `scorer` command."""

import sys

from streams.cli.main import main

sys.exit(main())
