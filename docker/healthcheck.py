"""Container health check for `web`: GET /healthz on the local server, exit 0 only on 200.

The request carries a host name from DJANGO_ALLOWED_HOSTS, so the check keeps passing when the
allowed hosts are the real domain only (Django answers 400 to any other Host).
"""

import os
import sys
import urllib.error
import urllib.request


def allowed_host() -> str:
    first = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0].strip()
    # ".example.com" allows example.com and its subdomains; "*" allows anything.
    return first.lstrip(".") if first not in ("", "*") else "localhost"


def main() -> int:
    request = urllib.request.Request("http://127.0.0.1:8000/healthz", headers={"Host": allowed_host()})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"healthz: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
