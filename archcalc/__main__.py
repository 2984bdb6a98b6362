"""``python -m archcalc`` runs the CLI (also how torchrun launches training)."""

from archcalc.cli.main import main

if __name__ == "__main__":
    main()
