//! Replays timewait specs against real TCP stacks and reports where each
//! departs from the model. The engine ([`engine`]) knows no stack: it
//! speaks [`wire`] segments to a [`stack::Stack`], and the stacks sit side
//! by side in [`backends`] (Linux in a namespace the harness creates,
//! smoltcp in process, agents, TAP). [`suite`] runs many specs at once,
//! [`verdict`] judges each against the model's prediction, [`report`],
//! [`matrix`], [`findings`] and [`pcap`] write what people read, with
//! [`diagram`] drawing each run that did not pass as a sequence diagram.

pub mod backends;
pub mod bench;
pub mod diagram;
pub mod engine;
pub mod facts_cache;
pub mod findings;
pub mod known;
pub mod matrix;
pub mod pcap;
pub mod probe;
pub mod report;
pub mod results;
pub mod spawn;
pub mod stack;
pub mod suite;
pub mod verdict;
pub mod versions;
pub mod wire;
