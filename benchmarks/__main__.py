"""``python -m benchmarks``: run the streaming benchmark (see benchmarks/README.md)."""

import sys

from benchmarks.run import main

sys.exit(main())
