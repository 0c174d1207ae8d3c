import sys

from mixbench.cli import main

sys.exit(main())
