//! libFuzzer target `fuzz-frame`: [`timewait_fuzz::Target::Frame`] on each input;
//! a broken invariant panics, which libFuzzer records as a crash.

#![no_main]

use libfuzzer_sys::fuzz_target;
use timewait_fuzz::Target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = Target::Frame.run(data) {
        panic!("{broken}");
    }
});
