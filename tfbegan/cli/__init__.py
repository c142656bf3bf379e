"""Thin absl command-line mains; the only place tfbegan reads flags."""
