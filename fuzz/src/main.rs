//! eddy-fuzz: an in-process mutation fuzzer for Eddy's input parsers that runs
//! on stable Rust (no libFuzzer, no compiler instrumentation).
//!
//! Loop: pick a corpus entry, mutate it (byte-level havoc, JSON-structure-aware
//! edits, or a target-specific mutation/generation), run the target inside
//! `catch_unwind`, and keep the input when its execution shows an outcome
//! feature not seen before. Panics (including failed invariant checks in the
//! targets) are crashes: the input is saved under `fuzz/crashes/`.
//!
//! Usage: `eddy-fuzz <target|all|list> [--seconds N] [--seed N] [--max-len N]`
//!        `eddy-fuzz <target> --replay FILE...`

use eddy_fuzz::features::{self, Features};
use eddy_fuzz::mutate;
use eddy_fuzz::rng::Rng;
use eddy_fuzz::targets::{self, Target};
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::Hasher;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Most corpus entries kept per target.
const MAX_CORPUS: usize = 8192;
/// Executions slower than this are reported (and saved) as slow inputs.
const SLOW: Duration = Duration::from_millis(250);

struct Options {
    target: String,
    seconds: u64,
    seed: u64,
    max_len: usize,
    replay: Vec<PathBuf>,
    show_features: bool,
    export_seeds: Option<PathBuf>,
    export_dict: Option<PathBuf>,
}

fn usage() -> String {
    let names: Vec<&str> = targets::all().iter().map(|t| t.name).collect();
    format!(
        "usage: eddy-fuzz <{}|all|list> [--seconds N] [--seed N] [--max-len BYTES]\n       eddy-fuzz <target> --replay FILE...\n       eddy-fuzz <target> [--export-seeds DIR] [--export-dict FILE]\n       (--show-features prints each new outcome feature; the exports feed libFuzzer, see fuzz/cov/)",
        names.join("|")
    )
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let target = args.next().ok_or_else(usage)?;
    let mut o = Options {
        target,
        seconds: 60,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        max_len: 128 * 1024,
        replay: Vec::new(),
        show_features: false,
        export_seeds: None,
        export_dict: None,
    };
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number\n{}", usage()))
        };
        match a.as_str() {
            "--seconds" => o.seconds = num("--seconds")?,
            "--seed" => o.seed = num("--seed")?,
            "--max-len" => o.max_len = num("--max-len")? as usize,
            "--show-features" => o.show_features = true,
            "--export-seeds" => o.export_seeds = Some(path_arg(&mut args, "--export-seeds")?),
            "--export-dict" => o.export_dict = Some(path_arg(&mut args, "--export-dict")?),
            "--replay" => {
                o.replay.extend(args.by_ref().map(PathBuf::from));
            }
            other => return Err(format!("unknown argument {other:?}\n{}", usage())),
        }
    }
    Ok(o)
}

fn path_arg(args: &mut impl Iterator<Item = String>, name: &str) -> Result<PathBuf, String> {
    args.next()
        .map(PathBuf::from)
        .ok_or_else(|| format!("{name} needs a path\n{}", usage()))
}

thread_local! {
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Records panics instead of printing them; the driver reports them.
fn install_panic_hook() {
    panic::set_hook(Box::new(|info| {
        let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_owned()
        };
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg} (at {at})")));
    }));
}

fn hash_bytes(data: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(data);
    h.finish()
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn save(kind: &str, target: &str, data: &[u8]) -> PathBuf {
    let dir = fuzz_dir().join(kind);
    let path = dir.join(format!("{target}-{:016x}", hash_bytes(data)));
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, data)) {
        eprintln!("  could not save {}: {e}", path.display());
    }
    path
}

/// Result of one execution.
enum Exec {
    Ok,
    Crash(String),
}

fn execute(t: &Target, data: &[u8], feats: &mut Features) -> Exec {
    feats.clear();
    match panic::catch_unwind(AssertUnwindSafe(|| (t.run)(data, feats))) {
        Ok(()) => Exec::Ok,
        Err(_) => {
            let msg = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
            Exec::Crash(msg)
        }
    }
}

/// A crash message with the variable parts removed, for de-duplication.
fn crash_key(msg: &str) -> String {
    let at = msg.rfind(" (at ").map_or("", |i| &msg[i..]);
    let first = msg.lines().next().unwrap_or("");
    let head = first.split(['{', '"', '[']).next().unwrap_or("");
    format!("{}{at}", features::normalize(head))
}

struct Stats {
    execs: u64,
    crashes: u64,
    unique_crashes: usize,
    slow: u64,
    slowest: Duration,
    corpus: usize,
    outcomes: usize,
    avg_len: usize,
    elapsed: Duration,
}

struct Run<'t> {
    target: &'t Target,
    feats: Features,
    seen: HashSet<u64>,
    corpus: Vec<Vec<u8>>,
    crash_sigs: HashMap<String, u64>,
    stats: Stats,
}

impl Run<'_> {
    /// Executes one input; keeps it when it shows a new outcome feature.
    fn handle(&mut self, data: &[u8], force_keep: bool) {
        let t = self.target;
        let began = Instant::now();
        let r = execute(t, data, &mut self.feats);
        let took = began.elapsed();
        let stats = &mut self.stats;
        stats.execs += 1;
        stats.slowest = stats.slowest.max(took);
        if took > SLOW {
            stats.slow += 1;
            if stats.slow <= 20 {
                let p = save("slow", t.name, data);
                println!("  slow input ({took:?}): {}", p.display());
            }
        }
        match r {
            Exec::Crash(msg) => {
                stats.crashes += 1;
                let n = self.crash_sigs.entry(crash_key(&msg)).or_insert(0);
                *n += 1;
                if *n == 1 {
                    stats.unique_crashes += 1;
                    let p = save("crashes", t.name, data);
                    println!(
                        "  CRASH #{}: {msg}\n    input saved to {}",
                        stats.unique_crashes,
                        p.display()
                    );
                }
            }
            Exec::Ok => {
                let mut new = false;
                for (i, h) in self.feats.hashes().iter().enumerate() {
                    if self.seen.insert(*h) {
                        new = true;
                        if let Some(text) = self.feats.texts().get(i) {
                            println!("  new feature: {text}");
                        }
                    }
                }
                if (new || force_keep) && data.len() <= 64 * 1024 {
                    if self.corpus.len() < MAX_CORPUS {
                        self.corpus.push(data.to_vec());
                    } else {
                        let i = (hash_bytes(data) as usize) % self.corpus.len();
                        self.corpus[i] = data.to_vec();
                    }
                }
            }
        }
    }
}

fn fuzz(t: &Target, o: &Options, seed: u64) -> Stats {
    let mut rng = Rng::new(seed);
    let mut feats = Features::default();
    feats.keep_text = o.show_features;
    let mut run = Run {
        target: t,
        feats,
        seen: HashSet::new(),
        corpus: Vec::new(),
        crash_sigs: HashMap::new(),
        stats: Stats {
            execs: 0,
            crashes: 0,
            unique_crashes: 0,
            slow: 0,
            slowest: Duration::ZERO,
            corpus: 0,
            outcomes: 0,
            avg_len: 0,
            elapsed: Duration::ZERO,
        },
    };
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.seconds);
    let mut report_at = start + Duration::from_secs(5);
    for s in (t.seeds)() {
        run.handle(&s, true);
    }
    if run.corpus.is_empty() {
        run.corpus.push(b"{}".to_vec());
    }
    let mut input: Vec<u8> = Vec::new();
    let mut other: Vec<u8> = Vec::new();
    loop {
        // Check the clock every 256 executions.
        if run.stats.execs.is_multiple_of(256) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if now >= report_at {
                report_at = now + Duration::from_secs(5);
                let secs = (now - start).as_secs_f64();
                println!(
                    "  [{}] {secs:>5.1}s execs={} exec/s={:.0} corpus={} outcomes={} crashes={} slowest={:?}",
                    t.name,
                    run.stats.execs,
                    run.stats.execs as f64 / secs,
                    run.corpus.len(),
                    run.seen.len(),
                    run.stats.crashes,
                    run.stats.slowest
                );
            }
        }
        let i = rng.below(run.corpus.len());
        let j = rng.below(run.corpus.len());
        input.clear();
        input.extend_from_slice(&run.corpus[i]);
        other.clear();
        other.extend_from_slice(&run.corpus[j]);
        if !(t.special)(&mut rng, &mut input) {
            let structural = rng.one_in(3) && mutate::json_mutate(&mut rng, &mut input, &other, t.dict);
            if !structural {
                mutate::havoc(&mut rng, &mut input, &other, t.dict, o.max_len);
            }
        }
        input.truncate(o.max_len);
        run.handle(&input, false);
    }
    let mut stats = run.stats;
    stats.corpus = run.corpus.len();
    stats.avg_len = run.corpus.iter().map(Vec::len).sum::<usize>() / run.corpus.len().max(1);
    stats.outcomes = run.seen.len();
    stats.elapsed = start.elapsed();
    stats
}

fn replay(t: &Target, files: &[PathBuf]) -> bool {
    let mut feats = Features::default();
    let mut all_ok = true;
    for f in files {
        let data = match std::fs::read(f) {
            Ok(d) => d,
            Err(e) => {
                println!("{}: {e}", f.display());
                all_ok = false;
                continue;
            }
        };
        let began = Instant::now();
        match execute(t, &data, &mut feats) {
            Exec::Ok => println!("{}: ok ({:?})", f.display(), began.elapsed()),
            Exec::Crash(msg) => {
                all_ok = false;
                println!("{}: CRASH: {msg}", f.display());
            }
        }
    }
    all_ok
}

/// Writes the target's seeds (one file each, named by content hash, so that
/// exporting again adds nothing twice) and its tokens and keys as a libFuzzer
/// dictionary.
fn export(t: &Target, o: &Options) -> std::io::Result<()> {
    if let Some(dir) = &o.export_seeds {
        std::fs::create_dir_all(dir)?;
        let seeds = (t.seeds)();
        for s in &seeds {
            std::fs::write(dir.join(format!("seed-{:016x}", hash_bytes(s))), s)?;
        }
        println!("{}: {} seeds written to {}", t.name, seeds.len(), dir.display());
    }
    if let Some(file) = &o.export_dict {
        let mut out = String::new();
        let keys = t.dict.keys.iter().map(|k| format!("\"{k}\""));
        let entries: Vec<String> = mutate::JSON_TOKENS
            .iter()
            .chain(t.dict.tokens)
            .map(|s| s.to_string())
            .chain(keys)
            .collect();
        for e in &entries {
            out.push('"');
            for b in e.bytes() {
                match b {
                    0x20..=0x7e if b != b'"' && b != b'\\' => out.push(b as char),
                    _ => out.push_str(&format!("\\x{b:02x}")),
                }
            }
            out.push_str("\"\n");
        }
        std::fs::write(file, out)?;
        println!(
            "{}: {} dictionary entries written to {}",
            t.name,
            entries.len(),
            file.display()
        );
    }
    Ok(())
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let all = targets::all();
    if o.target == "list" {
        for t in &all {
            println!("{:<12} {}", t.name, t.about);
        }
        return;
    }
    let chosen: Vec<&Target> = if o.target == "all" {
        all.iter().collect()
    } else {
        match all.iter().find(|t| t.name == o.target) {
            Some(t) => vec![t],
            None => {
                eprintln!("unknown target {:?}\n{}", o.target, usage());
                std::process::exit(2);
            }
        }
    };
    if o.export_seeds.is_some() || o.export_dict.is_some() {
        for t in &chosen {
            if let Err(e) = export(t, &o) {
                eprintln!("{}: export failed: {e}", t.name);
                std::process::exit(1);
            }
        }
        return;
    }
    install_panic_hook();
    if !o.replay.is_empty() {
        let ok = chosen.iter().all(|t| replay(t, &o.replay));
        std::process::exit(if ok { 0 } else { 1 });
    }
    let mut any_crash = false;
    let mut rows = Vec::new();
    for (n, t) in chosen.iter().enumerate() {
        let seed = o.seed.wrapping_add(n as u64);
        println!("== {} for {} s (seed {seed})", t.name, o.seconds);
        let s = fuzz(t, &o, seed);
        any_crash |= s.crashes > 0;
        let line = format!(
            "| {} | {:.0} | {} | {:.0} | {} | {} | {} ({} unique) | {:?} |",
            t.name,
            s.elapsed.as_secs_f64(),
            s.execs,
            s.execs as f64 / s.elapsed.as_secs_f64().max(1e-9),
            s.corpus,
            s.outcomes,
            s.crashes,
            s.unique_crashes,
            s.slowest
        );
        println!(
            "== {} done: execs={} exec/s={:.0} corpus={} (avg {} bytes) outcomes={} crashes={} unique={} slow(>{SLOW:?})={} slowest={:?}",
            t.name,
            s.execs,
            s.execs as f64 / s.elapsed.as_secs_f64().max(1e-9),
            s.corpus,
            s.avg_len,
            s.outcomes,
            s.crashes,
            s.unique_crashes,
            s.slow,
            s.slowest
        );
        rows.push(line);
    }
    println!("\n| target | seconds | executions | exec/s | corpus | outcomes | crashes | slowest |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!("{r}");
    }
    if any_crash {
        std::process::exit(1);
    }
}
