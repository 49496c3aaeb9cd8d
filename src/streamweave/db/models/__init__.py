"""All tables, imported together so that metadata and Alembic see every one."""

from streamweave.db.models.activity import (
    AuditLog,
    HarvestNoticeState,
    InstrumentRequest,
    Notification,
)
from streamweave.db.models.files import (
    Counter,
    FileAccessGrant,
    FileMetadataEntry,
    FileRecord,
    FileTransfer,
    FileVersion,
    HarvestRun,
)
from streamweave.db.models.harvest import HarvestEntry, HarvestLease
from streamweave.db.models.lab import (
    HarvestSchedule,
    HookConfig,
    Instrument,
    InstrumentAccess,
    ServiceAccount,
    StorageLocation,
)
from streamweave.db.models.users import (
    ApiToken,
    Group,
    GroupMember,
    Project,
    ProjectMember,
    RevokedToken,
    User,
)

__all__ = [
    "ApiToken",
    "AuditLog",
    "Counter",
    "FileAccessGrant",
    "FileMetadataEntry",
    "FileRecord",
    "FileTransfer",
    "FileVersion",
    "Group",
    "GroupMember",
    "HarvestEntry",
    "HarvestLease",
    "HarvestNoticeState",
    "HarvestRun",
    "HarvestSchedule",
    "HookConfig",
    "Instrument",
    "InstrumentAccess",
    "InstrumentRequest",
    "Notification",
    "Project",
    "ProjectMember",
    "RevokedToken",
    "ServiceAccount",
    "StorageLocation",
    "User",
]

# Registers the events that keep list positions dense; imported here so that every
# user of the models has them.
from streamweave.db import positions as _positions  # noqa: F401
