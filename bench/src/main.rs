//! eddy-bench: a load generator that drives an already-running Eddy server over
//! loopback through its public REST and WebSocket APIs. Every phase is bounded in
//! count and time. See bench/README.md.

mod common;
mod scenarios;

use clap::{Args, Parser, Subcommand};
use common::{progress, Target};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "eddy-bench",
    about = "Load generator for a running Eddy server (loopback only)"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    scenario: Scenario,
}

/// Options shared by every scenario.
#[derive(Args, Clone)]
pub struct Global {
    /// Base URL of the running server (must resolve to 127.0.0.0/8).
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// More nodes of the same cluster (comma list of base URLs): client sockets are
    /// spread round-robin over `--url` and these; REST calls go to `--url`.
    #[arg(long, global = true, value_delimiter = ',')]
    pub also: Vec<String>,
    /// Service key (eddy_sk_…).
    #[arg(long, global = true, env = "EDDY_SERVICE_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Also append the JSON result line to this file.
    #[arg(long, global = true)]
    pub json: Option<std::path::PathBuf>,
    /// PID of the server process: enables server CPU / RSS figures (from /proc).
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// Spread client sockets over this many source addresses 127.0.0.2, 127.0.0.3, …
    /// (0: let the kernel pick 127.0.0.1).
    #[arg(long, global = true, default_value_t = 8)]
    pub source_addrs: usize,
    /// Sockets opened concurrently during setup.
    #[arg(long, global = true, default_value_t = 500)]
    pub parallel: usize,
    /// Per-socket setup timeout (connect + subscribe/join), seconds.
    #[arg(long, global = true, default_value_t = 30.0)]
    pub setup_timeout: f64,
    /// After the load stops, wait at most this long without progress for outstanding deliveries, seconds.
    #[arg(long, global = true, default_value_t = 10.0)]
    pub drain_timeout: f64,
    /// Delete the bench collection afterwards (each deleted document is a change).
    #[arg(long, global = true)]
    pub cleanup: bool,
    /// Hard cap on the whole run, seconds: the process exits when exceeded.
    #[arg(long, global = true, default_value_t = 900.0)]
    pub max_runtime: f64,
}

#[derive(Subcommand)]
enum Scenario {
    /// S subscribers on one collection, one REST writer at R docs/s: write-to-event latency, lost/dup.
    Latency {
        #[arg(long, short = 's', default_value_t = 1_000)]
        subscribers: usize,
        #[arg(long, short = 'r', default_value_t = 200.0)]
        rate: f64,
        #[arg(long, short = 't', default_value_t = 20.0)]
        duration: f64,
    },
    /// C concurrent REST writers as fast as possible and one subscriber: creates/s, events/s, lag.
    Feed {
        #[arg(long, short = 'c', default_value_t = 16)]
        writers: usize,
        #[arg(long, short = 't', default_value_t = 20.0)]
        duration: f64,
        /// Operations per request through POST /v1/collections/{c}/batch (0: single creates).
        #[arg(long, default_value_t = 0)]
        batch: usize,
    },
    /// N subscribers and one writer at R docs/s: deliveries/s, latency, lost/dup.
    Fanout {
        #[arg(long, short = 's', default_value_t = 10_000)]
        subscribers: usize,
        #[arg(long, short = 'r', default_value_t = 50.0)]
        rate: f64,
        #[arg(long, short = 't', default_value_t = 20.0)]
        duration: f64,
    },
    /// N clients in rooms of K, each room broadcasting R messages/s: deliveries/s and latency.
    Rooms {
        #[arg(long, short = 'n', default_value_t = 10_000)]
        clients: usize,
        #[arg(long, short = 'k', default_value_t = 100)]
        room_size: usize,
        #[arg(long, short = 'r', default_value_t = 5.0)]
        rate: f64,
        #[arg(long, short = 't', default_value_t = 20.0)]
        duration: f64,
    },
    /// N idle authenticated subscribed sockets held T seconds: server RSS per connection, idle CPU.
    Connections {
        #[arg(long, short = 'n', default_value_t = 10_000)]
        connections: usize,
        #[arg(long, short = 't', default_value_t = 30.0)]
        duration: f64,
    },
}

fn main() {
    let cli = Cli::parse();
    let Some(key) = cli.global.key.clone().filter(|k| !k.is_empty()) else {
        eprintln!("eddy-bench: a service key is required (--key or EDDY_SERVICE_KEY)");
        std::process::exit(2);
    };
    let fds = common::raise_fd_limit(1 << 20);
    progress(format!("fd limit {fds}"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let g = cli.global.clone();
    let code = rt.block_on(async move {
        let target = match Target::new(&g.url, &g.also, &key, g.source_addrs).await {
            Ok(t) => Arc::new(t),
            Err(e) => {
                eprintln!("eddy-bench: {e}");
                return 2;
            }
        };
        let run = async {
            match cli.scenario {
                Scenario::Latency {
                    subscribers,
                    rate,
                    duration,
                } => scenarios::subscribe_load("latency", &target, &g, subscribers, rate, duration).await,
                Scenario::Fanout {
                    subscribers,
                    rate,
                    duration,
                } => scenarios::subscribe_load("fanout", &target, &g, subscribers, rate, duration).await,
                Scenario::Feed {
                    writers,
                    duration,
                    batch,
                } => scenarios::feed(&target, &g, writers, duration, batch).await,
                Scenario::Rooms {
                    clients,
                    room_size,
                    rate,
                    duration,
                } => scenarios::rooms(&target, &g, clients, room_size, rate, duration).await,
                Scenario::Connections { connections, duration } => {
                    scenarios::connections(&target, &g, connections, duration).await
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs_f64(g.max_runtime), run).await {
            Err(_) => {
                eprintln!("eddy-bench: --max-runtime {}s exceeded", g.max_runtime);
                3
            }
            Ok(Err(e)) => {
                eprintln!("eddy-bench: {e}");
                1
            }
            Ok(Ok(report)) => {
                report.print_table();
                let line = report.json().to_string();
                println!("{line}");
                if let Some(path) = &g.json {
                    let r = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .and_then(|mut f| writeln!(f, "{line}"));
                    if let Err(e) = r {
                        eprintln!("eddy-bench: writing {}: {e}", path.display());
                    }
                }
                0
            }
        }
    });
    // Do not wait for stray tasks (e.g. sockets still closing).
    rt.shutdown_timeout(Duration::from_secs(2));
    std::process::exit(code);
}
