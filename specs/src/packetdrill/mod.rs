//! packetdrill scripts in and out: [`import`] translates the TCP subset of
//! packetdrill's language into a spec, [`export`] writes a spec as a script
//! packetdrill runs unchanged. [`parse`] reads packetdrill's syntax.
//! Between the two, steps packetdrill cannot express travel as
//! `// timewait:` comments, so a spec survives the round trip whole.

pub mod export;
pub mod import;
pub mod parse;

pub use export::{export, Exported, NotExported};
pub use import::{import_str, Imported};
