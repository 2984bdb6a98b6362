"""``python -m archcalc`` runs the CLI (also how torchrun launches training)."""

from archcalc.cli.main import run

if __name__ == "__main__":
    run()
