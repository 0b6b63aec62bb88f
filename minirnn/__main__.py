"""``python -m minirnn <command>``: the same as the ``minirnn`` console script (see ``minirnn.cli``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
