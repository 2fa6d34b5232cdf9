from opchat.cli import main

raise SystemExit(main())
