"""Request and response bodies, with the v0 field names."""
