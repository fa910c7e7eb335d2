# Eddy: build with Rust's image, run on a slim Debian as a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: it is rebuilt only when a manifest or the
# lock file changes, not on every source edit. Empty targets stand in for the sources.
COPY Cargo.toml Cargo.lock ./
COPY bench/Cargo.toml bench/Cargo.toml
RUN mkdir -p src benches bench/src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/matcher.rs \
 && echo 'fn main() {}' > bench/src/main.rs \
 && cargo build --release --locked --bin eddy \
 && rm -rf src benches bench/src
COPY . .
# COPY keeps the context's modification times, which can be older than the stand-in build:
# touch the crate roots so that cargo rebuilds Eddy instead of keeping the empty binary.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin eddy \
 && cp target/release/eddy /usr/local/bin/eddy

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin eddy
COPY --from=build /usr/local/bin/eddy /usr/local/bin/eddy
USER 10001:10001
# Inside a container the server must listen on every interface to be reachable.
ENV EDDY_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["eddy", "healthcheck"]
ENTRYPOINT ["eddy", "serve"]
