"""StreamWeave: verified, identified, audited transfer of lab data."""

__version__ = "0.1.0"
