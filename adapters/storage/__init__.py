"""Event-sourced storage of generators, chosen by store URL."""
