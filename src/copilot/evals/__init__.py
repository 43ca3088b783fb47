"""Evaluation runners. Retrieval quality now; answers, citations and safety build on it."""
