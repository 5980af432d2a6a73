# Backtide: a small runtime image with the `backtide` binary.
#
#   docker build -t backtide .
#   docker run -p 8000:8000 -v backtide-data:/data backtide          # the service
#   docker run -v "$PWD:/work" -w /work backtide run --data prices.csv --strategy sma_cross
#
# No Docker engine runs on this project's build machines: this file is checked by
# `crates/cli/tests/it/deploy.rs` (every backtide flag it uses exists) but was not built here.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The CLI only: no Python package, no benches.
RUN cargo build --release --locked -p backtide-cli \
 && strip target/release/backtide

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin backtide \
 && mkdir -p /data && chown backtide /data
COPY --from=build /src/target/release/backtide /usr/local/bin/backtide
USER backtide
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# The service sizes its workers and memory budget from the container's cgroup limits and
# logs what it found at start-up (`backtide limits` prints the same).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["backtide"]
CMD ["serve", "--addr", "0.0.0.0:8000", "--data-dir", "/data"]
