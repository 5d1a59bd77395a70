# pimbot container image: the bot in Socket Mode or HTTP mode, with PostgreSQL support.
#   docker build -t pimbot .
#   docker run --env-file .env -p 3000:3000 -v "$PWD/pimbot.yml:/app/pimbot.yml:ro" pimbot
# Settings come from the environment (README "Configuration"); never bake secrets in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIM_CONFIG=/app/pimbot.yml \
    PIM_PORT=3000

WORKDIR /app

# Dependencies first so code edits reuse the cached layer.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install ".[postgres]"

COPY pimbot.yml manifest.yml ./

# A non-root user that owns nothing but its home and /app/data (the SQLite default;
# set PIM_DATABASE_URL=postgresql+psycopg://… for PostgreSQL, as docker-compose.yml does).
RUN useradd --system --uid 10001 --create-home --home-dir /home/pimbot pimbot \
    && mkdir /app/data && chown pimbot /app/data
ENV PIM_DATABASE_URL=sqlite:////app/data/pimbot.db
VOLUME ["/app/data"]
USER pimbot

EXPOSE 3000

# HTTP mode answers GET /healthz (200 while the process answers; /readyz tells whether
# Graph and the database are reachable). In Socket Mode the check passes as long as the
# process runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; sys.exit(0) if os.environ.get('SLACK_APP_TOKEN') else u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PIM_PORT', '3000'), timeout=4)"]

CMD ["pimbot", "run"]
