"""Destination paths a hook may choose: always inside the storage root.

A hook (a redirect rule, a webhook's answer, a plugin) names a path relative to the
storage root. It is accepted only if, after normalisation, it cannot leave that root
on any storage StreamWeave writes to:

- no absolute path ('/x'), no Windows drive or UNC form ('C:x', '\\\\server');
- no '..' segment anywhere, even one a lexical normalisation would cancel ('a/../b'):
  storages resolve '..' after symlinks, so a lexical check could be fooled;
- no backslash (SMB and WebDAV servers on Windows treat it as a separator) and no NUL
  or other control character;
- segments are also checked after Unicode NFKC normalisation, because some servers
  fold compatibility characters: two fullwidth full stops (U+FF0E) would become '..'.

Empty and '.' segments are dropped ('a//./b' is 'a/b').
"""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafeDestination(ValueError):
    """The path would leave the storage root, or cannot be written safely."""


def contained(path: str) -> str:
    """``path`` normalised, or UnsafeDestination saying why it cannot be used."""
    if not isinstance(path, str):
        raise UnsafeDestination(f"a destination must be text, not {type(path).__name__}")
    if path.startswith("/"):
        raise UnsafeDestination(f"{path!r} is absolute; give a path relative to the storage root")
    if "\\" in path:
        raise UnsafeDestination(f"{path!r} contains a backslash; use '/' between folders")
    if _CONTROL.search(path):
        raise UnsafeDestination(f"{path!r} contains a control character")
    if _DRIVE.match(path):
        raise UnsafeDestination(f"{path!r} starts with a drive letter")
    segments = [segment for segment in path.split("/") if segment not in ("", ".")]
    for segment in segments:
        folded = unicodedata.normalize("NFKC", segment)
        if segment == ".." or folded == ".." or "/" in folded or "\\" in folded:
            raise UnsafeDestination(
                f"{path!r} has a '..' segment (or one that a server could read as a "
                "separator); it could leave the storage root"
            )
    if not segments:
        raise UnsafeDestination(f"{path!r} names no file")
    return "/".join(segments)


def under(folder: str, path: str) -> str:
    """``path`` placed under ``folder``, both checked (see the module's rules)."""
    return contained(f"{folder.rstrip('/')}/{path.lstrip('/')}")
