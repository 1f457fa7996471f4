"""`python -m trademail` runs the command line."""

import sys

from trademail.cli import main

sys.exit(main())
