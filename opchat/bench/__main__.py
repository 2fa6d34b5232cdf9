"""``python -m opchat.bench``: the benchmark without the CLI."""

import contextlib

from opchat.bench import main

with contextlib.suppress(KeyboardInterrupt):
    raise SystemExit(main())
