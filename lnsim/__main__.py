"""`python -m lnsim --nodes 3 --dir /tmp/lns` (the CLI dispatches `peerwatt lnsim`)."""

import sys

from lnsim.server import main

sys.exit(main())
