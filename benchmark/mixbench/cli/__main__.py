"""``python -m mixbench.cli``, as the module ``mixbench.cli`` ran before it became a package."""

import sys

from mixbench.cli import main

sys.exit(main())
