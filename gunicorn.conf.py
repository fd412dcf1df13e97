"""
Gunicorn settings for production, sized for a 2-core machine.

Threaded workers (gthread): 2 processes x 4 threads did as well as 5 sync
workers on 2 cores and keep memory low. Each process holds a database pool of
GUNICORN_THREADS connections (see DB_POOL_SIZE in settings), opened before the
worker serves (post_worker_init below), so a thread never waits for a connection.

    gunicorn -c gunicorn.conf.py reliefmatch.wsgi
"""

import os

from reliefmatch.gunicorn_worker import health_bind

# The app's address, and the health listener's (GUNICORN_HEALTH_BIND, empty to
# leave it out): connections to the latter are served by a thread of their own
# in each worker, so /healthz answers at once even when every thread is busy
# (reliefmatch/gunicorn_worker.py). Keep both on loopback behind nginx.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
if health_address := health_bind():
    bind.append(health_address)
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# gthread, with the health listener's thread.
worker_class = "reliefmatch.gunicorn_worker.ThreadWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never take the host down.
# Not often: a restart costs a second or two of CPU and empties the worker's
# compiled catalogue and cached results pages (under 20000 + up to 10000, a
# worker restarted in the middle of the HTTP benchmark). A wide jitter keeps
# the workers from restarting together (a load test saw both recycle at once
# under 5000 +/- 500).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 2
# Only the proxies Django trusts (DJANGO_TRUSTED_PROXIES) may tell gunicorn the
# visitor used HTTPS (X-Forwarded-Proto); by default (empty) nobody may, not
# even gunicorn's own default of 127.0.0.1. Django checks the list when it
# loads and refuses to start on one that cannot be right.
forwarded_allow_ips = ",".join(
    entry.strip()
    for entry in os.environ.get("DJANGO_TRUSTED_PROXIES", "").split(",")
    if entry.strip()
)
accesslog = "-"
# No query strings or headers in the access log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
# Private links (/r/<token>/) and unsubscribe links carry secrets in the path:
# this logger writes them as /r/[redacted]/, in the access and the error log,
# and hides email addresses and API keys too (see reliefmatch/logging.py).
logger_class = "reliefmatch.logging.GunicornLogger"


def post_worker_init(worker):
    """Fill the worker's database pool before it takes requests.

    Its first requests then never wait for new connections (see
    DB_POOL_OPTIONS in settings). With the database down the worker starts
    after 5 s all the same.
    """
    from reliefmatch.database import open_pools

    open_pools(timeout=5)
