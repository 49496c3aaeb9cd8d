"""Where data lives and how it moves: typed connection configs and (later) adapters."""
