//! What every form and JSON body shares: the problems found in its fields, by field name.

use std::collections::BTreeMap;

/// Field name → what is wrong with it, as the API's `fields` object and next to a form's field.
pub type FieldErrors = BTreeMap<String, String>;
