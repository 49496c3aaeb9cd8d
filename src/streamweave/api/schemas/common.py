from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

T = TypeVar("T")


def _in_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


# A timestamp in a filter: naive means UTC; one that has no UTC equivalent (year 1 at
# +14:00, year 9999 at -14:00) is invalid input, not a crash when it is compared.
UTCDateTime = Annotated[datetime, AfterValidator(_in_utc)]


def _date_or_timestamp(value: Any) -> Any:
    """``YYYY-MM-DD`` is a day; anything longer is a timestamp, its offset kept (left to
    itself, pydantic reads a midnight timestamp as a date and drops the offset)."""
    if not isinstance(value, str):
        return value
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return value  # validation then reports it


# A bound of a date-range filter: a whole day, or an exact moment.
DayOrMoment = Annotated[date | UTCDateTime, BeforeValidator(_date_or_timestamp)]


class ORMModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _unstorable_text(value: Any, where: str) -> str | None:
    """The first string, key or number in ``value`` that cannot be stored, described."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where}: {value} is not a number JSON can carry"
    if isinstance(value, str):
        if "\x00" in value:
            return f"{where}: contains a NUL character (\\x00), which cannot be stored"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where}: is not valid Unicode (it contains a lone surrogate)"
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = _unstorable_text(key, f"{where} (a key)") or _unstorable_text(
                item, f"{where}.{key}"
            )
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            problem = _unstorable_text(item, f"{where}.{index}")
            if problem:
                return problem
    return None


class InputModel(BaseModel):
    # Unknown fields are an error, not silently dropped: a typo must not look like success.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        # PostgreSQL text and JSONB refuse NUL characters, UTF-8 cannot encode lone
        # surrogates and JSON has no NaN (Python's parser accepts it): refuse them here,
        # on every backend, instead of failing on write or on the way back out.
        if isinstance(data, dict):
            for key, value in data.items():
                problem = _unstorable_text(value, str(key))
                if problem:
                    raise ValueError(problem)
        return data


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    skip: int
    limit: int
