//! What every form and JSON body shares: the problems found in its fields, by field name, and
//! the small rules the `parse` functions of each capability are written with.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// Field name → what is wrong with it, as the API's `fields` object and next to a form's field.
pub type FieldErrors = BTreeMap<String, String>;

/// Records `problem` for `name`, unless the field already has one (the first problem is told).
pub fn fail<T>(errors: &mut FieldErrors, name: &str, problem: &str) -> Option<T> {
    errors
        .entry(name.to_owned())
        .or_insert_with(|| problem.to_owned());
    None
}

/// `value`, or "is required" recorded for `name`.
pub fn required<T>(errors: &mut FieldErrors, name: &str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        fail::<()>(errors, name, "is required");
    }
    value
}

/// A whole number within `range`, as `i32`; outside it a problem is recorded for `name`.
pub fn int_in(
    errors: &mut FieldErrors,
    name: &str,
    value: Option<i64>,
    range: RangeInclusive<i32>,
) -> Option<i32> {
    match i32::try_from(value?) {
        Ok(n) if range.contains(&n) => Some(n),
        _ => fail(
            errors,
            name,
            &format!("must be between {} and {}", range.start(), range.end()),
        ),
    }
}

/// Text trimmed and 1 to `max` characters long; otherwise a problem is recorded for `name`.
pub fn text(
    errors: &mut FieldErrors,
    name: &str,
    value: Option<&str>,
    max: usize,
) -> Option<String> {
    let value = value?.trim();
    if value.is_empty() || value.chars().count() > max {
        return fail(errors, name, &format!("must be 1 to {max} characters"));
    }
    Some(value.to_owned())
}
