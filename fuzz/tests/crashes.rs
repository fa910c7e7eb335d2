//! Regression test for every saved fuzzer finding: each file in `fuzz/crashes/`
//! (named `<target>-<hash>`, from either engine) runs through its target's
//! checks again, exactly as the fuzzer ran it, and must no longer fail.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

/// The target a crash file belongs to: its name less the trailing `-<hash>`.
fn target_of(file: &str) -> Option<&str> {
    let (name, hash) = file.rsplit_once('-')?;
    (!hash.is_empty() && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
}

#[test]
fn saved_crashes_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crashes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/crashes exists")
        .map(|e| e.expect("readable entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no saved crashes in {}", dir.display());
    let mut failed = Vec::new();
    for path in &files {
        let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let name = target_of(file).unwrap_or_else(|| panic!("{file}: not <target>-<hash>"));
        assert!(
            eddy_fuzz::targets::by_name(name).is_some(),
            "{file}: unknown target {name}"
        );
        let data = std::fs::read(path).expect("readable crash file");
        if panic::catch_unwind(AssertUnwindSafe(|| eddy_fuzz::run_target(name, &data))).is_err() {
            failed.push(file.to_owned());
        }
    }
    assert!(failed.is_empty(), "still failing: {failed:?}");
}
