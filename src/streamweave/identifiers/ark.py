"""ARKs: minting (NOID style, with an NCDA check character) and parsing. Pure: no I/O.

A minted ARK is ``ark:/{NAAN}/{shoulder}{blade}{check}``. The blade is random
betanumeric characters (digits and consonants without "l": nothing reads as a word or
is mistaken for "1"); the check character is the Noid Check Digit Algorithm over
``{NAAN}/{shoulder}{blade}``, which catches every single-character error and every
transposition of two adjacent characters.

Parsing follows the ARK specification's normalisation, kept to what this resolver
needs: the label ``ark:`` is case-insensitive and may be followed by "/" or not; the
NAAN is lowercased; hyphens are identity-inert and removed; the case of the name is
kept (names are case-sensitive; ours are all lowercase); hex digits after "%" are
lowercased; anything after "?" is an inflection, not part of the identity.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from operator import mul
from typing import Protocol

from streamweave.errors import InvalidInput, StreamWeaveError

BETANUMERIC = "0123456789bcdfghjkmnpqrstvwxz"
MIN_BLADE_LENGTH = 8
# Repeated blades tolerated per mint before the source is declared broken: a CSPRNG
# repeats an 8-character blade once in ~5e11 draws, so even one is already unusual.
MAX_REPEATS = 100

_ORDINAL = {char: index for index, char in enumerate(BETANUMERIC)}
# bytes.translate tables: a byte to its value mod 29, the bytes _random_digits rejects,
# and a digit to its character.
_MOD_BASE = bytes(value % len(BETANUMERIC) for value in range(256))
_REJECTED_BYTES = bytes(range(256 - 256 % len(BETANUMERIC), 256))
_DIGIT_CHAR = BETANUMERIC.encode("ascii").ljust(256, b"?")
_NAAN = re.compile(r"[0-9bcdfghjkmnpqrstvwxz]+")
# Characters an ARK name may hold (ARK spec, "Character repertoires"), plus %XX escapes.
_NAME = re.compile(r"(?:[0-9A-Za-z=~*+@_$]|%[0-9a-fA-F]{2})+")
_PERCENT_HEX = re.compile(r"%([0-9A-Fa-f]{2})")
# A resolver's address before the ARK ("https://n2t.net/ark:/..."): not part of it.
_RESOLVER_PREFIX = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]+/", re.IGNORECASE)
_LABEL = re.compile(r"^ark:/?", re.IGNORECASE)

# How a blade is drawn: its length in, the blade out. Replaceable so that tests can
# force collisions; the default is a CSPRNG, so blades cannot be predicted.
BladeSource = Callable[[int], str]


class ArkNamespace(Protocol):
    """Where new ARKs go: Settings, or any options object carrying the same two names."""

    @property
    def ark_naan(self) -> str: ...

    @property
    def ark_shoulder(self) -> str: ...


class ArkError(InvalidInput):
    """Text that cannot be an ARK, or a minting request that cannot be met."""


class MintingExhausted(StreamWeaveError):
    """Fresh ARKs kept repeating or colliding with existing ones: the blade source is not
    random, or the shoulder's namespace is nearly full."""


class MalformedArk(ArkError):
    """The text does not have the shape ``ark:/NAAN/name`` (or ``ark:NAAN/name``)."""


class CheckCharacterMismatch(ArkError):
    """The last character of the name is not the check character of the rest."""

    def __init__(self, ark: Ark) -> None:
        self.ark = ark
        self.expected = ark.expected_check
        super().__init__(
            f"{ark.base}: the check character should be {self.expected!r} "
            f"({ark.corrected}); the ARK was probably mistyped"
        )


def _weight(text: str) -> int:
    return sum(_ORDINAL.get(char, 0) * position for position, char in enumerate(text, 1))


def check_char(text: str) -> str:
    """The NCDA check character of ``text``: each character's ordinal in BETANUMERIC
    (0 for any other character, such as "/") times its 1-based position, summed, mod 29."""
    return BETANUMERIC[_weight(text) % len(BETANUMERIC)]


def _random_digits(count: int) -> bytes:
    """``count`` independent digits, each uniform over range(29), one per byte."""
    digits = b""
    while len(digits) < count:
        # Rejection sampling: 0-231 take each value mod 29 exactly 8 times, so a random
        # byte kept only when below 232 gives an exactly uniform digit; the 24 bytes
        # above would favour digits 0-23 and are dropped, 9% of draws (hence an eighth
        # more asked for, so that one call nearly always suffices).
        missing = count - len(digits)
        digits += secrets.token_bytes(missing * 9 // 8 + 16).translate(_MOD_BASE, _REJECTED_BYTES)
    return digits[:count]


def random_blade(length: int) -> str:
    """``length`` independent, uniformly drawn characters: the default BladeSource."""
    return _random_digits(length).translate(_DIGIT_CHAR).decode("ascii")


def _random_arks(count: int, naan: str, shoulder: str, length: int) -> list[str]:
    """``compose(naan, shoulder, random_blade(length))``, ``count`` times, from one draw
    of randomness and without re-reading the constant prefix for every check character:
    a harvest mints tens of thousands at once."""
    prefix = f"{naan}/{shoulder}"
    weight = _weight(prefix)
    positions = range(len(prefix) + 1, len(prefix) + length + 1)
    digits = _random_digits(count * length)
    chars = digits.translate(_DIGIT_CHAR).decode("ascii")
    arks: list[str] = []
    for start in range(0, len(digits), length):
        end = start + length
        total = weight + sum(map(mul, digits[start:end], positions))
        arks.append(f"ark:/{prefix}{chars[start:end]}{BETANUMERIC[total % len(BETANUMERIC)]}")
    return arks


def validate_naan(naan: str) -> str:
    if not re.fullmatch(r"[0-9]{5,}", naan):
        raise ArkError(f"ARK NAAN {naan!r} must be 5 or more digits (e.g. 99999)")
    return naan


def validate_shoulder(shoulder: str) -> str:
    # The "first-digit convention": a shoulder ends with a digit, so where it stops and
    # the blade starts can be read from the ARK itself.
    if not re.fullmatch(f"[{BETANUMERIC}]*[0-9]", shoulder):
        raise ArkError(
            f"ARK shoulder {shoulder!r} must be betanumeric characters "
            f"({BETANUMERIC}) ending with a digit (e.g. fk4)"
        )
    return shoulder


def compose(naan: str, shoulder: str, blade: str) -> str:
    """The full ARK for ``blade``, its check character appended."""
    body = f"{naan}/{shoulder}{blade}"
    return f"ark:/{body}{check_char(body)}"


def mint(
    count: int,
    *,
    naan: str,
    shoulder: str,
    blade_length: int = MIN_BLADE_LENGTH,
    source: BladeSource = random_blade,
) -> list[str]:
    """``count`` distinct new ARKs. Distinct among themselves only: whether one is
    already in use is the database's to say (``identifiers.service.mint_unique``)."""
    if count < 0:
        raise ArkError(f"cannot mint {count} ARKs")
    if blade_length < MIN_BLADE_LENGTH:
        raise ArkError(f"blade length {blade_length} is below the minimum {MIN_BLADE_LENGTH}")
    validate_naan(naan)
    validate_shoulder(shoulder)

    def draw(missing: int) -> list[str]:
        if source is random_blade:
            return _random_arks(missing, naan, shoulder, blade_length)
        return [compose(naan, shoulder, source(blade_length)) for _ in range(missing)]

    minted: dict[str, None] = {}  # a set that keeps minting order, for reproducible tests
    drawn = 0
    while len(minted) < count:
        if drawn - len(minted) > MAX_REPEATS:
            raise MintingExhausted(
                f"the blade source repeated itself more than {MAX_REPEATS} times in {count} draws"
            )
        # Never more draws than could still be needed: a source gets called exactly as
        # often as if its blades were drawn one at a time.
        missing = count - len(minted)
        minted.update(dict.fromkeys(draw(missing)))
        drawn += missing
    return list(minted)


@dataclass(frozen=True)
class Ark:
    """A parsed, normalised ARK. ``name`` is the base object's name; ``qualifier`` is
    what follows it ("/part" or ".ext"), empty for the object itself."""

    naan: str
    name: str
    qualifier: str = ""

    @property
    def base(self) -> str:
        """The object's ARK as stored: ``ark:/NAAN/name``."""
        return f"ark:/{self.naan}/{self.name}"

    @property
    def expected_check(self) -> str:
        return check_char(f"{self.naan}/{self.name[:-1]}")

    @property
    def check_ok(self) -> bool:
        return len(self.name) >= 2 and self.name[-1] == self.expected_check

    @property
    def corrected(self) -> str:
        return f"ark:/{self.naan}/{self.name[:-1]}{self.expected_check}"

    def require_check(self) -> Ark:
        if not self.check_ok:
            raise CheckCharacterMismatch(self)
        return self


def _split_name(rest: str) -> tuple[str, str]:
    match = _NAME.match(rest)
    if match is None:
        raise MalformedArk(f"ARK {rest!r}: the name is empty or holds a character ARKs forbid")
    name, qualifier = rest[: match.end()], rest[match.end() :]
    if qualifier and qualifier[0] not in "/.":
        raise MalformedArk(f"ARK name {rest!r} holds a character ARKs forbid")
    # Initial and final structural characters carry no meaning; doubled ones collapse.
    qualifier = re.sub(r"([/.])[/.]+", r"\1", qualifier).rstrip("/.")
    return name, qualifier


def parse(text: str) -> Ark:
    """``ark:/NAAN/name``, ``ark:NAAN/name`` (either possibly behind a resolver's
    address, possibly with an inflection), normalised. The check character is not
    enforced here: see ``Ark.check_ok`` and ``Ark.require_check``."""
    rest = _RESOLVER_PREFIX.sub("", text.strip(), count=1).split("?", 1)[0]
    label = _LABEL.match(rest)
    if label is None:
        raise MalformedArk(f"{text!r} is not an ARK: it must start with 'ark:'")
    rest = _PERCENT_HEX.sub(lambda m: "%" + m.group(1).lower(), rest[label.end() :])
    naan, slash, rest = rest.replace("-", "").partition("/")
    naan = naan.lower()
    if not slash or not _NAAN.fullmatch(naan):
        raise MalformedArk(f"{text!r} is not an ARK: expected ark:/NAAN/name")
    name, qualifier = _split_name(rest)
    return Ark(naan=naan, name=name, qualifier=qualifier)
