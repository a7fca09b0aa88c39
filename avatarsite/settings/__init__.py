"""Settings package: base (embedded defaults), test, production."""
