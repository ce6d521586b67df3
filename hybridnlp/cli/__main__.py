"""``python -m hybridnlp.cli``: the ``hybridnlp`` command (torchrun starts it so)."""

import sys

from hybridnlp.cli import main

sys.exit(main())
