"""`python -m warble`: the entry point torchrun launches (`torchrun ... -m warble train ...`)."""

import os
import sys

from warble.cli import main

code = main()
if "RANK" in os.environ:
    # A torchrun worker has written and closed everything by now. Skip interpreter teardown: under load, gloo's
    # threads occasionally abort there ("terminate called without an active exception"), which torchrun reports
    # as a failed run after a successful one.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
