# Production image: `podium serve`. Migrations are a separate, explicit step:
#   docker run --rm -e DATABASE_URL=... podium podium migrate
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
COPY migrations ./migrations
COPY alembic.ini ./
RUN uv sync --frozen --no-dev

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /app podium
WORKDIR /app
COPY --from=build --chown=podium:podium /app /app
ENV PATH="/app/.venv/bin:$PATH" PODIUM_ENV=production PYTHONUNBUFFERED=1
USER podium
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"
CMD ["podium", "serve", "--host", "0.0.0.0", "--port", "8000"]
