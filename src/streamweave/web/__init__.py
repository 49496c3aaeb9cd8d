"""The web UI: the built React app (``dist/``, produced by ``scripts/bootstrap``)."""
