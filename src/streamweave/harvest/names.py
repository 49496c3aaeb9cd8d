"""Names on storage that folds them: SMB shares compare file names without case and
without regard to Unicode form, so two source files whose destinations fold alike would
become one file there, the second copy replacing the first.

The folded form of each harvested destination is stored with its entry (``done_key``)
and compared by equality: databases fold case differently (SQLite's ``lower`` only
ASCII, none of them ``ß`` to ``ss``), so the folding is done here, once, by Python.
"""

from __future__ import annotations

import unicodedata

# Storage kinds whose servers fold names: SMB (Samba and Windows compare names without
# case; clients may send either Unicode form).
FOLDING_KINDS = frozenset({"cifs"})


def folded(path: str) -> str:
    """The name storage that folds names sees: case-folded, in one Unicode form."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())
