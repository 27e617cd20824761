"""python -m iso15118_ev.codec: build the grammars of every namespace into the cache."""
from .grammar_cache import main

raise SystemExit(main())
