# Build stage: compile wheels into a virtualenv; nothing of it but the venv reaches the image.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-cache-dir .

# Runtime stage: the venv, the data and migrations, a non-root user.
FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /srv/appeals appeals
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/appeals
COPY alembic ./alembic
COPY cases ./cases
COPY recipients ./recipients
COPY letter_templates ./letter_templates
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    APPEALS_ALEMBIC_DIR=/srv/appeals/alembic \
    APPEALS_CASES_DIR=/srv/appeals/cases \
    APPEALS_RECIPIENTS_DIR=/srv/appeals/recipients \
    APPEALS_VAR_DIR=/srv/appeals/var \
    APPEALS_HOST=0.0.0.0
USER appeals
EXPOSE 8000
CMD ["appeals", "serve", "--migrate"]
