"""Stacks compose components; ``python -m stacks.plan`` runs the program offline."""
