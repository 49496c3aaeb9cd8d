"""The streamweave command."""
