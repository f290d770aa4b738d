"""Pure backfill logic: what to fetch, in which pages, and what a rerun still needs."""
