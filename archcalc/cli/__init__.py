"""The command-line interface: one module per command, imported lazily by ``archcalc.cli.main``."""
