# StreamWeave for production: the API, the workers and `prefect server` all run this
# image (deploy/docker-compose.yml). Build from the repository root:
#   docker build -t streamweave .

FROM node:20-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
# vite writes the build into the Python package, next to the server that serves it.
RUN mkdir -p /src/src/streamweave/web && npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    STREAMWEAVE_DATA_DIR=/var/lib/streamweave
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY src/ src/
COPY --from=web /src/src/streamweave/web/dist/ src/streamweave/web/dist/
RUN pip install -c constraints.txt . \
    && useradd --system --home-dir /var/lib/streamweave --create-home streamweave
USER streamweave
EXPOSE 8000
CMD ["streamweave", "serve", "--host", "0.0.0.0", "--port", "8000"]
