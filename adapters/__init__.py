"""All I/O: storage, files, engines, CLI, HTTP; and the composition root."""
