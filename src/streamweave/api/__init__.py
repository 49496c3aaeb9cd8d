"""The HTTP layer: validation, authentication, then a service call."""
