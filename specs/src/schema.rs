//! The JSON Schema of the spec format, for editors (yaml-language-server)
//! and for review tools; `timewait specs schema` prints it and the committed
//! specs/schema.json is tested to be current.

use crate::format::Spec;

/// The schema as pretty-printed JSON with a trailing newline.
pub fn json() -> String {
    let schema = schemars::schema_for!(Spec);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
