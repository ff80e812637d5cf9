"""`python -m opsbench.cli`."""

from opsbench.cli.main import main

raise SystemExit(main())
