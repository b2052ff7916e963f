//! Fuzzing timewait's readers of untrusted input: the spec loader (files
//! people and tools write), the agent-protocol reader (lines an agent
//! process prints) and the frame parser (frames a stack under test sends).
//! [`targets`] holds the checks the libFuzzer binaries and the smoke test
//! share; [`seeds`] builds the seed corpus from the committed specs,
//! captures and agent transcript; [`mutate`] gives the smoke test its
//! deterministic mutations.

pub mod mutate;
pub mod seeds;
pub mod targets;

pub use targets::{Broken, Target};
