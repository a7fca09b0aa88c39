"""On-demand avatar generation: jobs, providers, live progress."""
