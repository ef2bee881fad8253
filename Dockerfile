# syntax=docker/dockerfile:1
# One image for the whole backend: `azione-web` (the server, `migrate` and the admin
# commands) and `azione-worker`. docker-compose.yml runs it as web, worker and migrate.

FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep downloaded crates and compiled dependencies between builds. They are
# not part of the image, so the binaries are copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin azione-web --bin azione-worker \
    && mkdir -p /out \
    && cp target/release/azione-web target/release/azione-worker /out/

# Same Debian release as the build stage, so the binaries find the glibc they were linked
# against. No compiler, no package manager caches, no shell tools beyond the base image's
# (bash stays: the health checks use its /dev/tcp).
FROM debian:12.13-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 azione \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin azione
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
# Inside a container the server must listen on all interfaces (the default is loopback).
ENV BIND_ADDR=0.0.0.0:8000 \
    LOG_FORMAT=json
EXPOSE 8000
CMD ["azione-web", "serve"]
