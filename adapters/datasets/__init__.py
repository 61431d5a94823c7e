"""Reading the user's tables."""
