"""gunicorn settings for one EDP Live process (the scaled-out stack: `make stack`, compose.yaml).

    gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:8001 edp.wsgi:app

One worker per gunicorn process: a Socket.IO client must keep reaching the process that holds
its session, and gunicorn's own balancing between workers is not sticky. More cores mean more
gunicorn processes on other ports behind nginx's cookie-sticky upstream (deploy/nginx.conf.in).
Settings here may be overridden on the command line or with GUNICORN_CMD_ARGS.
"""
import os

# gevent, as `edp run`: one greenlet per connection (threading stalls near 300 phones), in
# gevent's WSGI server with `edp run`'s deadline for request lines and headers (edp/server.py).
worker_class = "edp.server.Worker"

workers = 1
# Every phone holds a connection (two during the long-polling upgrade); gunicorn's default of
# 1,000 would refuse phones beyond the thousandth.
worker_connections = int(os.environ.get("EDP_WORKER_CONNECTIONS", "5000"))
# A gevent worker's heartbeat: restarted when its loop is blocked this long.
timeout = 60
graceful_timeout = 20
keepalive = 5
# Access lines are nginx's job; errors (and EDP_LOG_FORMAT=json app lines) go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("EDP_GUNICORN_LOG_LEVEL", "info")
