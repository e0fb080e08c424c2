"""``python -m simulation.experiments sweep SPEC ...`` / ``analyze DIR``."""

import sys

from simulation.experiments.commands import main

if __name__ == "__main__":
    sys.exit(main())
