"""Podium v2."""
