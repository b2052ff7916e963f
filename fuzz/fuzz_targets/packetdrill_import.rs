//! libFuzzer target `fuzz-packetdrill_import`: [`timewait_fuzz::Target::PacketdrillImport`]
//! on each input; a broken invariant panics, which libFuzzer records as a crash.

#![no_main]

use libfuzzer_sys::fuzz_target;
use timewait_fuzz::Target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = Target::PacketdrillImport.run(data) {
        panic!("{broken}");
    }
});
