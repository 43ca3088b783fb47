"""Knowledge ingestion: loaders per format, the Japanese-aware splitter, the incremental indexer."""
