from flowpipe_runtime.cli import main

raise SystemExit(main())
