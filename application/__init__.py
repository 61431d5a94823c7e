"""Use cases and ports of ffwd: what embedded callers, the CLI and the HTTP API drive.

Import what you use from its module (`ffwd.application.spec`, `ffwd.application.views`):
this package imports nothing, so a command loads only the models it needs."""
