"""`python -m seqlab`: see `seqlab.cli`."""

import sys

from seqlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
