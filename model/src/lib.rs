//! timewait's formal model: two TCP endpoints (RFC 9293) over a network that
//! loses, duplicates, reorders and delays segments, checked with stateright
//! for the two reasons TIME-WAIT exists: reliable termination and no
//! cross-incarnation delivery.
//!
//! Start at [`TeardownModel`] (the stateright model), [`PropertyId`] (what is
//! checked), [`Preset`] (the variants), and [`check::check_property`] (running it).
//!
//! ```
//! use timewait_model::check::{check_property, Limits, VariantSpec};
//! use timewait_model::{Config, Preset, PropertyId, Verdict};
//!
//! // Without TIME-WAIT, a retransmitted (or reordered) segment meets a CLOSED
//! // endpoint and the peer sees a reset.
//! let base = Config { data_sends: 0, ..Config::default() };
//! let v = VariantSpec::preset(Preset::NoTimeWait, &base, base.msl).unwrap();
//! let r = check_property(&v, PropertyId::ReliableTerminationReset, None, &Limits::default(), &mut |_| {});
//! assert_eq!(r.verdict, Verdict::Violated);
//! println!("{}", r.trace.unwrap().render("  "));
//! ```

pub mod check;
pub mod config;
pub mod diagram;
pub mod endpoint;
pub mod fastbfs;
pub mod isn_cover;
pub mod properties;
pub mod rules;
pub mod search;
pub mod segment;
pub mod seq;
pub mod swarm;
pub mod symmetry;
pub mod system;
pub mod tolerance;
pub mod trace;
pub mod variant;

pub use config::{Config, ConfigError, DEFAULT_ISNS, DEFAULT_LISTENER_ISNS, FIRST_ISS};
pub use properties::{PropertyId, Verdict};
pub use system::{Action, State, TeardownModel};
pub use variant::{Behaviour, Preset};
