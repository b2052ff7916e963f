//! Replays timewait specs against real TCP stacks and reports where each
//! departs from the model. The engine ([`engine`]) knows nothing of Linux;
//! a stack is a [`stack::Stack`] backend, and the first one is Linux's own
//! TCP in a network namespace the harness creates ([`linux`]). [`suite`]
//! runs many specs at once, [`verdict`] compares each with the model's
//! prediction, [`report`] and [`pcap`] write what people read.

pub mod agent;
pub mod agents;
pub mod bench;
pub mod engine;
pub mod findings;
pub mod known;
pub mod linux;
pub mod matrix;
pub mod pcap;
pub mod probe;
pub mod report;
pub mod results;
pub mod smoltcp_stack;
pub mod stack;
pub mod suite;
pub mod tap;
pub mod verdict;
pub mod versions;
pub mod wire;
