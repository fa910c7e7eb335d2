//! Fuzz targets: each turns input bytes into calls on Eddy's public API, records
//! outcome features, and checks invariants (a failed check is a panic, which the
//! driver records as a crash exactly like a panic inside Eddy).

pub mod credentials;
pub mod docs;
pub mod filter;
pub mod protocol;

use crate::features::Features;
use crate::mutate::Dict;
use crate::rng::Rng;

/// One fuzz target.
pub struct Target {
    /// Command-line name.
    pub name: &'static str,
    /// One line on what it exercises.
    pub about: &'static str,
    /// Initial corpus.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Tokens and keys for mutations.
    pub dict: &'static Dict,
    /// Runs one input.
    pub run: fn(&[u8], &mut Features),
    /// Target-specific mutation (e.g. re-signing JWTs) or generation from a
    /// grammar; returns false to fall back to the generic mutators.
    pub special: fn(&mut Rng, &mut Vec<u8>) -> bool,
}

/// Every target.
pub fn all() -> Vec<Target> {
    vec![
        protocol::target(),
        filter::url_target(),
        filter::json_target(),
        credentials::target(),
    ]
}

/// The target called `name`.
pub fn by_name(name: &str) -> Option<Target> {
    all().into_iter().find(|t| t.name == name)
}

/// Seeds from a directory of fixture files (missing directory: none).
pub fn files_in(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|mut b| {
            while b.last().is_some_and(|c| c.is_ascii_whitespace()) {
                b.pop();
            }
            b
        })
        .collect()
}

/// The repository root (the fuzz crate lives in `fuzz/`).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
