"""The operator's console (issue 20): the dashboard of spend, usage and health at /ops/."""
