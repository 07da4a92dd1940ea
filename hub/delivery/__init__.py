"""Delivery to sinks: the durable outbox's dispatcher and the dead letters."""
