//! libFuzzer entry point for the `filter-url` target (see docs/FUZZING.md).
#![no_main]
eddy_fuzz_cov::eddy_fuzz_target!("filter-url");
