"""Test doubles that ship with the package, for what cannot run offline (a remote LLM).
They record what they were sent and are never used unless a test or a setting asks."""
