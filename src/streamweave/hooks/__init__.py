"""Hooks that run around each transfer: filter, redirect, enrich, grant, notify."""
