# Build stage: the wheel and its dependencies into a virtualenv; only the venv reaches the image.
# The wheel carries the migrations, the report's data and the letter templates
# (<venv>/share/appeals), so the image needs nothing else from this checkout.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY app ./app
COPY alembic ./alembic
COPY cases ./cases
COPY recipients ./recipients
COPY letter_templates ./letter_templates
RUN pip install --no-cache-dir .

# Runtime stage: the venv and a non-root user. One image for the API and every worker:
#   docker run IMAGE            the web app and API (appeals start serve)
#   docker run IMAGE worker     a delivery worker (run as many as the queue needs)
# Each start refuses a missing or published APPEALS_TOKEN_SECRET, then migrates and imports
# (idempotent; containers starting together take turns), then serves or works.
FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /srv/appeals appeals \
    && mkdir -p /srv/appeals/var && chown appeals /srv/appeals/var
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/appeals
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    APPEALS_VAR_DIR=/srv/appeals/var \
    APPEALS_HOST=0.0.0.0
# The outbox, the embedded SQLite file (if no APPEALS_DATABASE_URL), the demo secret: kept.
VOLUME /srv/appeals/var
USER appeals
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4).status != 200)"]
ENTRYPOINT ["appeals", "start"]
CMD ["serve"]
