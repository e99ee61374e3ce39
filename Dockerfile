# One image for every Tradelane process (bridge, sink, worker, api, simulator); the compose
# file picks the command. Dependencies are pinned by constraints.txt.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY tradelane ./tradelane
COPY ingest ./ingest
COPY streams ./streams
COPY finance ./finance
COPY devices ./devices
COPY api ./api
COPY faults ./faults
COPY transport ./transport
COPY webhooks ./webhooks
COPY bench ./bench
COPY devtools ./devtools
COPY cli ./cli
COPY config ./config
RUN pip install -c constraints.txt . && useradd --system --uid 10001 tradelane
USER tradelane

ENTRYPOINT ["tradelane"]
CMD ["--help"]
