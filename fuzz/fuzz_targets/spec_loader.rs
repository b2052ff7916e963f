//! libFuzzer target `fuzz-spec_loader`: [`timewait_fuzz::Target::SpecLoader`] on each input;
//! a broken invariant panics, which libFuzzer records as a crash.

#![no_main]

use libfuzzer_sys::fuzz_target;
use timewait_fuzz::Target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = Target::SpecLoader.run(data) {
        panic!("{broken}");
    }
});
