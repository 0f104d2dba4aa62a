"""gunicorn settings, read from the working directory by ``gunicorn wsgi:app`` (``-w``, ``-b`` and other
command-line options still win).

Threaded workers, not gunicorn's default sync ones: a sync worker does not report to the arbiter while
it handles a request, so a bid part streaming for longer than ``timeout`` (a few GiB on a slow line, or
any upload in a deadline rush) would be killed mid-stream and the tenderer's on-time bid lost (R-B3).
A gthread worker keeps reporting from its main loop while its threads stream uploads, and one slow
upload no longer blocks the worker's other requests.
"""

worker_class = "gthread"
threads = 8
# Only how long a worker may go without reporting (a hung process), not a limit on a request.
timeout = 60
graceful_timeout = 60
# gunicorn's control socket lives at one path per user ($HOME/.gunicorn): several instances on one host
# (web hosts, tests, benchmarks) would take it from each other. Nothing here uses it.
control_socket_disable = True
