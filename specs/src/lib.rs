//! timewait's trace specs: the YAML format ([`format`]), loading with exact
//! error locations ([`load`]: first the shape pass over the YAML tree,
//! [`shape`], then the typed parse and [`validate`]), the model as oracle
//! ([`oracle`]), the JSON Schema for editors ([`schema`]), and packetdrill
//! scripts in and out ([`packetdrill`]).

pub mod diag;
pub mod emit;
pub mod format;
pub mod gen;
pub mod load;
pub mod observed;
pub mod options;
pub mod oracle;
pub mod packetdrill;
pub mod schema;
pub mod shape;
pub mod suggest;
pub mod tree;
pub mod validate;
pub mod values;

pub use diag::Diagnostic;
pub use format::Spec;
pub use load::{load_file, load_str, LoadError};
