import sys

from peerwatt.cli import main

sys.exit(main())
