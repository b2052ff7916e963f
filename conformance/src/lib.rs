//! Replays timewait specs against real TCP stacks and reports where each
//! departs from the model. The engine ([`engine`]) knows nothing of Linux;
//! a stack is a [`stack::Stack`] backend, and the first one is Linux's own
//! TCP in a network namespace the harness creates ([`linux`]).

pub mod engine;
pub mod linux;
pub mod stack;
pub mod wire;
