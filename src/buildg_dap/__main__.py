"""``python -m buildg_dap``."""

from buildg_dap.cli import main

raise SystemExit(main())
