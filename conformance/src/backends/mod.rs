//! The stacks under test, side by side behind [`crate::stack::Stack`]: the
//! engine drives each the same way and knows none of them.
//!
//! - [`linux`]: the kernel's own TCP in a namespace the harness creates,
//!   its peer a raw packet socket (real time).
//! - [`smoltcp`]: smoltcp in this process on a virtual clock.
//! - [`agent`]: any stack that runs as its own program and speaks the agent
//!   protocol (lwIP, gVisor), on the protocol's virtual clock.
//! - [`tap`]: an agent on its own TAP interface in a namespace (real time).
//! - [`vm`]: another Linux kernel in QEMU, its NIC on such a TAP interface,
//!   its agent inside the guest (real time).

pub mod agent;
pub mod linux;
pub mod smoltcp;
pub mod tap;
pub mod vm;
