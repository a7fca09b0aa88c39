"""Gallery models arrive with the import pipeline."""
