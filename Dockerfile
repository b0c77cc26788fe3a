# syntax=docker/dockerfile:1
# EDP Live in containers: `docker compose up` (compose.yaml) runs two app processes behind nginx
# on PostgreSQL and Redis. Targets: `app` (gunicorn, non-root) and `web` (nginx with the static
# files). Production dependencies only, installed from the lock with hashes.

# ---- front-end assets from their npm packages (no CDN at run time)
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY static/ static/
RUN mkdir -p static/vendor \
 && cp node_modules/socket.io-client/dist/socket.io.esm.min.js static/vendor/ \
 && cp node_modules/chart.js/dist/chart.umd.min.js static/vendor/

# ---- Python packages from requirements/main.txt, and the compiled translations
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
COPY requirements/main.txt /tmp/main.txt
RUN /venv/bin/pip install --require-hashes --no-deps -r /tmp/main.txt
WORKDIR /app
COPY pyproject.toml README.md config.py babel.cfg ./
COPY edp/ edp/
COPY migrations/ migrations/
COPY templates/ templates/
COPY workshops/ workshops/
COPY deploy/gunicorn.conf.py deploy/
COPY --from=assets /src/static/ static/
RUN /venv/bin/pip install --no-deps -e . \
 && /venv/bin/pybabel compile -d edp/translations -f

# ---- the app: gunicorn with one gevent worker, as an unprivileged user
FROM python:3.11-slim-bookworm AS app
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin edp
COPY --from=build /venv /venv
COPY --from=build --chown=edp:edp /app /app
WORKDIR /app
USER edp
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 EDP_INSTANCE_PATH=/app/instance \
    EDP_PROXY_HOPS=1 EDP_LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind", "0.0.0.0:8000", "edp.wsgi:app"]

# ---- nginx: WebSocket upgrade, cookie-sticky routing, gzip, versioned static files
FROM nginx:1.27-bookworm AS web
COPY deploy/nginx.compose.conf /etc/nginx/nginx.conf
COPY --from=assets /src/static/ /srv/static/
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz >/dev/null || exit 1
