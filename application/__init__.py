"""Use cases and ports of ffwd: what embedded callers, the CLI and the HTTP API drive."""
