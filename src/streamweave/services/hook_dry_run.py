"""What the pre-transfer hooks would decide for one file, for admins testing a setup."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.crypto import SecretBox
from streamweave.db.models import Instrument
from streamweave.harvest.layout import default_destination
from streamweave.hooks import FileFacts, HookChain, PreOutcome
from streamweave.services import resources
from streamweave.services.hook_specs import hook_specs_for


@dataclass
class DryRun:
    outcome: PreOutcome
    signature: str

    @property
    def action(self) -> str:
        if self.outcome.blocked:
            return "blocked"
        return "skip" if self.outcome.skip_rule is not None else "transfer"


async def dry_run(
    session: AsyncSession, box: SecretBox, instrument_id: uuid.UUID, source_path: str, size: int
) -> DryRun:
    """Run the instrument's real pre-transfer chain on one made-up file. Webhooks are
    called, as in a harvest: their receivers see a request for a file that may not exist."""
    instrument = await resources.require_live(session, Instrument, instrument_id, "instrument_id")
    specs = await hook_specs_for(session, instrument.id, box)
    path = source_path.lstrip("/")
    facts = FileFacts(
        source_path=path,
        size=size,
        mtime=None,
        destination_path=default_destination(instrument.name, instrument.id, path),
        metadata={},
        instrument_id=str(instrument.id),
        instrument_name=instrument.name,
    )
    async with HookChain(specs) as chain:
        (outcome,) = await chain.run_pre([facts])
        return DryRun(outcome=outcome, signature=chain.pre_signature)
