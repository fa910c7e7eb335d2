//! Glue between libFuzzer and Eddy's fuzz targets (`eddy-fuzz`): each entry
//! point runs the target's own `run` (its invariant checks included) on
//! libFuzzer's bytes, and a custom mutator mixes the target's structure-aware
//! mutations into libFuzzer's byte-level ones.

pub use libfuzzer_sys;

use eddy_fuzz::mutate::json_mutate;
use eddy_fuzz::rng::Rng;
use eddy_fuzz::targets::{by_name, Target};
use std::sync::OnceLock;

/// Looks the target up once per process.
pub fn target(name: &'static str, slot: &'static OnceLock<Target>) -> &'static Target {
    slot.get_or_init(|| by_name(name).unwrap_or_else(|| panic!("unknown fuzz target {name:?}")))
}

/// One mutation of `data[..size]` in place, at most `max_size` bytes; returns
/// the new size. The target's own mutation (grammar generation, JWT
/// re-signing) and the JSON-structure mutations run in a minority of calls so
/// that libFuzzer's coverage-driven byte mutations still dominate.
pub fn mutate(t: &Target, data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    let mut rng = Rng::new(u64::from(seed));
    let size = size.min(data.len());
    if !rng.one_in(3) {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    let mut v = data[..size].to_vec();
    let changed = (t.special)(&mut rng, &mut v) || json_mutate(&mut rng, &mut v, &[], t.dict);
    if !changed || v.len() > max_size.min(data.len()) {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    data[..v.len()].copy_from_slice(&v);
    v.len()
}

/// Declares the libFuzzer entry point and custom mutator for a target.
#[macro_export]
macro_rules! eddy_fuzz_target {
    ($name:literal) => {
        static TARGET: std::sync::OnceLock<eddy_fuzz::targets::Target> = std::sync::OnceLock::new();

        $crate::libfuzzer_sys::fuzz_target!(|data: &[u8]| {
            let t = $crate::target($name, &TARGET);
            let mut f = eddy_fuzz::features::Features::default();
            (t.run)(data, &mut f);
        });

        $crate::libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
            $crate::mutate($crate::target($name, &TARGET), data, size, max_size, seed)
        });
    };
}
