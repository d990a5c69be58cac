import sys

from warble.cli import main

sys.exit(main())
