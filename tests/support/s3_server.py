"""moto's S3 API in server mode, run as `moto_server` runs it, but working out each request's
service once per host instead of on every request.

moto_server finds the service of a request from its host and signature, and on the way lists
moto's package directory (an `isdir` for each of some 150 entries) for every request: a quarter
of its time per request here, on the path of every file a test or the benchmark stores. The
answer for a host never changes while the server runs, so it is kept.

Run: `python tests/support/s3_server.py -H 127.0.0.1 -p 5000` (what `S3Server` starts).
"""

import argparse
import functools
import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class HostCachingDispatcher(DomainDispatcherApplication):
    @functools.lru_cache(maxsize=256)  # noqa: B019 - one dispatcher per process, kept for its whole life
    def get_backend_for_host(self, host: str | None) -> str | None:
        return super().get_backend_for_host(host)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = HostCachingDispatcher(create_backend_app)
    app.debug = True  # as moto_server: moto's error pages instead of a bare 500
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
