"""Serves moto on 127.0.0.1, one request at a time.

moto applies a DynamoDB TransactWriteItems item by item and, when one fails, puts back a copy
of the whole table taken before it began. Under moto_server's threads that is neither atomic
nor isolated: a failed transaction can erase another's writes. DynamoDB is both, and Tollgate's
idempotency rests on it, so this server takes requests on threads (keep-alive connections do not
block one another) but runs them one at a time.
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            # The body is produced inside the lock too: moto computes it lazily at times.
            return [b"".join(app(environ, start_response))]

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(args.host, args.port, serialized, threaded=True)


if __name__ == "__main__":
    main()
