"""Parts placed on a Ray cluster (`ffwd worker --ray`): the driver claims, Ray places, the
store carries stops and cancels to wherever a part runs (ADR 0027). Ray is imported only by
the driver's and the tasks' code, never by `ffwd --help`."""
