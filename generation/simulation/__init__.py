"""The traffic simulation behind `manage.py simulate_traffic`: the request mix (mix), the run on the
real services (run), its throwaway database (throwaway) and the report (report)."""
