"""Importers: plain-Python clients of premade-avatar sources (no Django models)."""
