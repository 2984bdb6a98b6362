"""``archcalc import``: a PyTorch model becomes an archcalc spec (see ``archcalc.backends.torch.importer.api``)."""
