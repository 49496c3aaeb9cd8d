"""The harvest pipeline: discover, plan, transfer, verify, record (plain async Python)."""
