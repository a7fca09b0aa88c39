"""Provider adapters: plain Python, a request dataclass in, a result dataclass out, or a typed error."""
