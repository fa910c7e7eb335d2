//! Eddy's fuzz targets and their invariant checks, as a library so that two
//! engines drive the same code: the stable in-process fuzzer (`src/main.rs`)
//! and the coverage-guided libFuzzer entry points in `cov/`.

pub mod features;
pub mod mutate;
pub mod rng;
pub mod targets;

/// Runs `data` through the target named `name` once, with its invariant checks
/// (a failed check panics). Unknown names panic too: callers pass literals.
pub fn run_target(name: &str, data: &[u8]) {
    let t = targets::by_name(name).unwrap_or_else(|| panic!("unknown fuzz target {name:?}"));
    let mut f = features::Features::default();
    (t.run)(data, &mut f);
}
