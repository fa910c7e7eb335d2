//! A private PostgreSQL cluster for tests that must control the server itself
//! (stop/start it, turn on TLS). initdb + pg_ctl from `/usr/lib/postgresql/<latest>/bin`
//! (or `PATH`), run as the `postgres` OS user when we are root, on a free port, in a
//! fresh temporary directory; stopped and removed on drop, also when a test fails.

#![allow(dead_code)]

use super::support::free_port;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Bound on anything that waits for a PostgreSQL command.
const PG_CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// The newest directory holding initdb and pg_ctl, if PostgreSQL is installed.
pub fn find_pg_bin_dir() -> Option<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version: Vec<u32> = name.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Some(bin);
    }
    // Other distributions put the server tools on PATH.
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    })
}

fn pg_bin_dir() -> PathBuf {
    match find_pg_bin_dir() {
        Some(bin) => bin,
        None => panic!(
            "this test needs PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/<version>/bin; \
             none found. Install Debian's `postgresql` package (CI does); this test does not skip."
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A private PostgreSQL cluster; stopped and deleted on drop.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    as_postgres: bool,
}

impl PgCluster {
    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A PostgreSQL tool, run as the `postgres` OS user when we are root
    /// (PostgreSQL refuses to run as root).
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.current_dir(&self.dir);
        c
    }

    /// Runs a tool to completion within `PG_CMD_TIMEOUT` without blocking the async runtime.
    async fn run(&self, tool: &str, args: &[&str]) {
        let mut c = tokio::process::Command::from(self.command(tool));
        c.args(args).kill_on_drop(true);
        let out = tokio::time::timeout(PG_CMD_TIMEOUT, c.output())
            .await
            .unwrap_or_else(|_| panic!("{tool} {args:?} did not finish within {PG_CMD_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed ({}):\n{}\n{}\n--- server log ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }

    /// initdb in a fresh temporary directory, then start.
    pub async fn create() -> PgCluster {
        let pg = PgCluster::init().await;
        pg.start().await;
        pg
    }

    /// initdb in a fresh temporary directory, without starting the server.
    pub async fn init() -> PgCluster {
        let bin = pg_bin_dir();
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!("eddy-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the cluster directory");
        let pg = PgCluster {
            bin,
            dir,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            // Debian's postgresql package creates this user; make sure it exists all the same.
            let has_user = Command::new("id")
                .arg("postgres")
                .output()
                .is_ok_and(|o| o.status.success());
            if !has_user {
                let _ = Command::new("useradd")
                    .args(["--system", "--no-create-home", "postgres"])
                    .status();
            }
            pg.chown(&pg.dir);
        }
        let data = pg.data();
        let data = data.to_str().expect("UTF-8 temp path");
        pg.run(
            "initdb",
            &["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        )
        .await;
        pg
    }

    fn chown(&self, path: &Path) {
        let ok = Command::new("chown")
            .arg("postgres")
            .arg(path)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "chown postgres {} failed (is there a `postgres` OS user?)",
            path.display()
        );
    }

    /// Writes a file into the data directory, readable only by the server's user
    /// (PostgreSQL refuses a private key that others can read).
    pub fn write_private_file(&self, name: &str, contents: &[u8]) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.data().join(name);
        std::fs::write(&path, contents).expect("write into the data directory");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
        if self.as_postgres {
            self.chown(&path);
        }
    }

    /// Appends settings to `postgresql.conf` (before `start`).
    pub fn append_conf(&self, lines: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data().join("postgresql.conf"))
            .expect("open postgresql.conf");
        writeln!(f, "\n{lines}").expect("append to postgresql.conf");
    }

    fn options(&self) -> String {
        // fsync off: the test stops PostgreSQL cleanly (fast shutdown), it does not crash the machine.
        format!(
            "-p {} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port
        )
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&self) {
        let data = self.data();
        let log = self.dir.join("server.log");
        let opts = self.options();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("UTF-8 path"),
                "-l",
                log.to_str().expect("UTF-8 path"),
                "-w",
                "-t",
                "60",
                "-o",
                &opts,
                "start",
            ],
        )
        .await;
    }

    /// Stops the server (fast mode) and waits for it.
    pub async fn stop(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().expect("UTF-8 path"),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "stop",
            ],
        )
        .await;
    }

    /// Crashes the cluster: SIGKILL to the postmaster, then to every process it
    /// had started, and waits (bounded) until all of them have exited. Nothing is
    /// shut down cleanly, so the next start runs crash recovery from the WAL.
    pub async fn kill(&self) {
        let pid_file = std::fs::read_to_string(self.data().join("postmaster.pid")).expect("postmaster.pid");
        let postmaster: u32 = pid_file
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("postmaster pid");
        let mut victims = vec![postmaster];
        victims.extend(children_of(postmaster));
        // One kill(1) for all, the postmaster first, so that it cannot start new
        // backends or recover and the backends get no time to exit on their own.
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(victims.iter().map(u32::to_string))
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while victims.iter().any(|p| alive(*p)) {
            assert!(
                std::time::Instant::now() < deadline,
                "PostgreSQL processes survived SIGKILL"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A killed postmaster may stay a zombie (when nothing reaps orphans, as in
        // some containers), and its pid in the data directory's or the socket's
        // lock file then blocks the next start. Every process of the cluster has
        // exited, so both files are stale.
        let _ = std::fs::remove_file(self.data().join("postmaster.pid"));
        let _ = std::fs::remove_file(format!("/tmp/.s.PGSQL.{}.lock", self.port));
    }

    /// The server's log so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// A URL for database `db` on 127.0.0.1.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Immediate mode: nothing to keep. Bounded by pg_ctl's own timeout.
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D"])
            .arg(&data)
            .args(["-m", "immediate", "-w", "-t", "30", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Processes whose parent is `parent` (from /proc).
fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| stat_field(*pid, 1).as_deref() == Some(&parent.to_string()))
        .collect()
}

/// Field `n` after the command name in /proc/PID/stat (0 = state, 1 = ppid).
fn stat_field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n).map(str::to_owned)
}

/// Whether a process still runs (a zombie has exited and released its memory).
fn alive(pid: u32) -> bool {
    stat_field(pid, 0).is_some_and(|state| state != "Z" && state != "X")
}
