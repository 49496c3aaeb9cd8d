"""Errors of the simulated lab; each message says what to install, free or fix."""

from __future__ import annotations


class LabError(Exception):
    """Base of every error the simulated lab raises on purpose."""


class MissingBinary(LabError):
    """A server program is not installed; the message names the package that brings it."""


class ServerStartError(LabError):
    """A server was started but did not become usable; the message carries its log tail."""


class DatasetError(LabError):
    """The sample dataset cannot be written where it was asked to go."""
