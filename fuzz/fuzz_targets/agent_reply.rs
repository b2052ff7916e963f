//! libFuzzer target `fuzz-agent_reply`: [`timewait_fuzz::Target::AgentReply`] on each input;
//! a broken invariant panics, which libFuzzer records as a crash.

#![no_main]

use libfuzzer_sys::fuzz_target;
use timewait_fuzz::Target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = Target::AgentReply.run(data) {
        panic!("{broken}");
    }
});
