from flowpipe_compiler.cli import main

raise SystemExit(main())
