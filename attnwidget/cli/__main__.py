"""``python -m attnwidget.cli``: the ``attnwidget`` command."""

import sys

from attnwidget.cli.commands import main

sys.exit(main())
