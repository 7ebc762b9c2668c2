import sys

from gristmill.pipeline.cli import main

sys.exit(main())
