"""Small shared pieces of the project: health checks, the embedded runner, the channel layer."""
