from aiflows.cli import main

raise SystemExit(main())
