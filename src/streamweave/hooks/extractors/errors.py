"""How an extractor says a file could not be read."""


class ExtractionError(Exception):
    """The file is unreadable or not in the expected format; the message says which."""
