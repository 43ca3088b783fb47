"""Benchmarks: each compares the project with a baseline in the same run and reports ratios."""
