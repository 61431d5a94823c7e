"""Training engines: the reference engines (numpy) and adapters for real ones."""
