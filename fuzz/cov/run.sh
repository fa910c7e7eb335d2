#!/usr/bin/env bash
# Coverage-guided run of one Eddy fuzz target under libFuzzer (cargo-fuzz), bounded in time.
#   fuzz/cov/run.sh TARGET [SECONDS]   (default 240; needs `cargo install cargo-fuzz`)
# Seeds: the target's own seed set (protocol fixtures, handwritten inputs, minted JWTs) and its
# dictionary, exported by the stable fuzzer, plus the saved crashes of fuzz/crashes/.
# Not part of scripts/test.sh or CI: see docs/FUZZING.md.
set -euo pipefail
target=${1:?usage: fuzz/cov/run.sh TARGET [SECONDS]}
seconds=${2:-240}
cov=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$cov/../.." && pwd)
corpus="$cov/corpus/$target"
mkdir -p "$corpus"
cargo run --quiet --manifest-path "$root/fuzz/Cargo.toml" -- "$target" \
    --export-seeds "$corpus" --export-dict "$cov/corpus/$target.dict"
cp "$root"/fuzz/crashes/"$target"-* "$corpus"/ 2>/dev/null || true
# No sanitizer: Eddy and the code it calls here are safe Rust, and ASan would cost speed.
# RUSTC_BOOTSTRAP: needed on the stable toolchain only with -s address (-Zsanitizer).
# With CARGO_TARGET_DIR set, the instrumented build goes to its cov/ subdirectory.
cd "$root"
RUSTC_BOOTSTRAP=1 nice -n 19 cargo fuzz run --fuzz-dir fuzz/cov -s none \
    ${CARGO_TARGET_DIR:+--target-dir "$CARGO_TARGET_DIR/cov"} "$target" "$corpus" -- \
    -dict="$cov/corpus/$target.dict" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -max_len=65536 -timeout=10 -print_final_stats=1
