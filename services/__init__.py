"""perpwatch services: the shared runtime, the ingestors and the stream processors."""
