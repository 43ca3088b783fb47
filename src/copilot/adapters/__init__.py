"""Implementations of the ports. Vendor libraries are imported here only, and lazily."""
