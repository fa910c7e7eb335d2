//! libFuzzer entry point for the `credentials` target (see docs/FUZZING.md).
#![no_main]
eddy_fuzz_cov::eddy_fuzz_target!("credentials");
