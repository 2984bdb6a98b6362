"""Backends that turn the graph IR into runnable models (only ``torch`` for now)."""
