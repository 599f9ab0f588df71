"""The scenario battery: one set of scenarios run against every target dialect."""
