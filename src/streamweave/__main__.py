"""`python -m streamweave` is the `streamweave` command."""

from streamweave.cli.main import main

main()
