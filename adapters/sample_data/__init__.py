"""The sample dataset that `ffwd demo` trains on (made by scripts/make_sample_data.py)."""
