# syntax=docker/dockerfile:1
# GraphiQL's browser bundles: `npm ci` of the pinned packages (the lockfile's integrity hashes), copied into
# app/graphql/static/vendor/ by the same script as dev set-up. Only the copied files reach the image.
FROM node:20-bookworm-slim AS graphiql
WORKDIR /src
COPY graphiql/package.json graphiql/package-lock.json ./graphiql/
COPY scripts/graphiql-assets ./scripts/graphiql-assets
RUN scripts/graphiql-assets

# Build stage: install the pinned dependencies into a virtualenv.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# Package data of app.graphql (pyproject): installed into the venv with the code.
COPY --from=graphiql /src/app/graphql/static/vendor ./app/graphql/static/vendor
RUN pip install --upgrade pip && pip install .

# Runtime stage: slim, non-root, only the venv, the migrations and the entrypoint.
FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    APP_ENV=prod HOST=0.0.0.0 PORT=8000 AERICH_NO_TORTOISE_V1_WARNING=1 \
    TASKBOARD_MIGRATIONS_DIR=/app/migrations
RUN groupadd --system taskboard && useradd --system --gid taskboard --home /app taskboard
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=taskboard:taskboard migrations ./migrations
COPY --chown=taskboard:taskboard pyproject.toml ./pyproject.toml
COPY --chown=taskboard:taskboard scripts/docker-entrypoint ./docker-entrypoint
USER taskboard
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status != 200)"
ENTRYPOINT ["./docker-entrypoint"]
CMD ["taskboard", "serve", "--workers", "2"]
