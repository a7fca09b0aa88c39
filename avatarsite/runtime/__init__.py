"""How the processes and servers are tuned, kept apart from the product's rules.

Nothing here decides what the site does; each item makes it faster or keeps a process's objects
its own, and could be removed without changing a single answer. Each line names the measurement
that justifies the item (from the module's own comment, the commit that made it, or the README's
Benchmarks section), or says that none was recorded.

- server_process.py runs in each prefork child (worker_process_init) and, on a thread-pool worker,
  once in its one process (worker_init, avatarsite/celery.py): no figure of its own.
- server_process.py, `gc.freeze()` at a process's start: a full collection walked about 150,000
  objects in a web process and 230,000 in a worker, a pause of 50 to 160 ms in the middle of a job
  or of every request in flight (108 ms measured in the web process).
- server_process.py, Pillow keeps 4 blocks of decoded-image memory: decoding a 1024 px result took
  4.6 ms at the median in the benchmark's worker, 2.3 ms with the memory kept.
- server_process.py, `sys.setswitchinterval(0.0005)`: the worker's run from the provider's end to the
  user's `succeeded` 2 to 3 ms shorter (interleaved benchmark runs); the extra switches cost nothing
  measurable.
- server_process.py, the S3 client and the channel layer made before the freeze: no figure recorded
  of its own (they are frozen with the rest instead of being made by the first request or task).
- redis_cache.py, one Redis connection pool and one redis-py client per server and process: a new
  TCP connection (about 1.5 ms) per ASGI request's first cache call, and about 0.2 ms to build a
  `redis.Redis` on every call; `incr_expiring`, a rate-limit count in one pipelined round trip
  instead of three (no time figure recorded).
- asgi.py, the middleware chain and the view in one trip to the sync thread: about a dozen thread
  hops per request, 1.5 to 2 ms of overhead, on every page and API call.
- s3.py, one boto3 connection per process instead of per thread: a new boto3 session, about 100 ms,
  for every request that signed a private URL; uploads without `Expect: 100-continue`, one round
  trip to R2 fewer before each PutObject (no time figure recorded).
- notifier.py, one event loop per process for job notifications: `async_to_sync` would open and
  close a channel-layer Redis connection for every message; no figure recorded.
- per_process.py, a value made once per process and again after a fork: no figure recorded (it
  holds the upload thread and the notifier's loop; a forked child must not use its parent's).
- upstream.py, every use of another library's private API, wrapped and checked by
  tests/runtime/test_upstream.py. avatarsite/core/storage.py reaches django-storages' through it for
  its one-PutObject upload (save() built a transfer manager and a thread pool per file, about 2 ms
  more per image).

Tuning that lives in settings (database pool reuse in Celery, the in-process broker's polling
interval, the thread-safe Celery result backend) stays in avatarsite/settings/base.py, the one place
settings are read, with its reason beside it.
"""
