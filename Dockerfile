# The web app (default command) or the scheduler; see compose.yaml and the README's "Running in containers".
FROM python:3.11-slim

# postgresql-client: pg_dump/pg_restore for backups; fonts-wqy-zenhei: the Chinese font of the PDF bulletin
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client fonts-wqy-zenhei \
 && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    WORKFLOW_APP_INSTANCE_DIR=/data/instance \
    WORKFLOW_APP_DATABASE_URL=sqlite:////data/instance/workflow_app.db

# The app finds bpmn/, templates/, static/ and translations/ next to src/: it is installed in place.
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install -e .
COPY bpmn ./bpmn
COPY campaigns ./campaigns
COPY standards ./standards
COPY templates ./templates
COPY static ./static
COPY translations ./translations
COPY docker ./docker

# A user of its own; the evidence (instance folder) and backups are volumes it owns.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin app \
 && mkdir -p /data/instance /data/backups \
 && chown -R app: /data
USER app
WORKDIR /data
VOLUME ["/data/instance", "/data/backups"]

EXPOSE 8000
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["workflow-app", "serve", "--host", "0.0.0.0", "--port", "8000"]
