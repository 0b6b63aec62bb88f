"""``python -m minirnn <command>``: the same as the ``minirnn`` console script (see ``minirnn.tools.cli``)."""

import sys

from .tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
