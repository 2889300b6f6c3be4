import sys

from hatebm.cli import main

sys.exit(main())
