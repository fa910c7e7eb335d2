//! `eddy healthcheck`: GET `/readyz` on the local server and exit 0 (ready) or 1, so that
//! container images need no HTTP client of their own.

use crate::config::HealthcheckArgs;
use anyhow::Context;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest response head read; `/readyz` answers with a few hundred bytes.
const MAX_RESPONSE: u64 = 16 * 1024;

/// The address to probe: the listen address, with a wildcard IP replaced by loopback.
pub fn target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Probes `/readyz`; Ok when it answers 200 within the timeout.
pub async fn run(args: &HealthcheckArgs) -> anyhow::Result<()> {
    let addr = target(args.listen);
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        // HTTP/1.0 with Connection: close: the server ends the response by closing, so reading
        // to the end is enough and no chunked decoding is needed.
        let request = format!("GET /readyz HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.take(MAX_RESPONSE).read_to_end(&mut response).await?;
        anyhow::Ok(response)
    };
    let response = tokio::time::timeout(args.timeout, probe)
        .await
        .map_err(|_| anyhow::anyhow!("no answer from {addr} within {:?}", args.timeout))??;
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    anyhow::ensure!(status == "200", "{addr}/readyz answered {status_line:?}");
    println!("ready");
    Ok(())
}
