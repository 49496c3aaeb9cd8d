"""What goes wrong between StreamWeave and Prefect."""

from __future__ import annotations

from streamweave.errors import StreamWeaveError


class OrchestratorUnavailable(StreamWeaveError):
    """No Prefect server is configured, or it cannot be reached."""
