# Multi-stage build: compile in the Rust image, run in a small Debian image
# as a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
# The workspace's other member must be present for cargo to load the
# workspace; only the server package is built.
COPY clarion-bench ./clarion-bench
RUN cargo build --release --locked -p clarion --bin clarion

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home clarion
COPY --from=build /src/target/release/clarion /usr/local/bin/clarion
COPY config/clarion.toml /etc/clarion/clarion.toml.example
USER clarion
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/up || exit 1
ENTRYPOINT ["clarion"]
