"""The pure core of ffwd: the generator aggregate and its lifecycle rules."""
