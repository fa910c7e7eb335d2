FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin eddy

FROM debian:bookworm-slim
RUN useradd --system eddy
COPY --from=build /src/target/release/eddy /usr/local/bin/eddy
USER eddy
EXPOSE 8080
ENTRYPOINT ["eddy", "serve"]
