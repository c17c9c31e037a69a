//! Small helpers shared by the typed views.

use std::borrow::Cow;
use std::str::FromStr;

use super::DomainError;
use crate::xml::Element;

/// Parses an optional attribute as a number (decimal, or hexadecimal with `0x`).
pub(crate) fn num_attr<T: FromStr + FromHex>(
    el: &Element,
    attr: &str,
) -> Result<Option<T>, DomainError> {
    el.attr(attr)
        .map(|v| parse_num(&v, &format!("<{}> attribute `{attr}`", el.name())))
        .transpose()
}

/// Parses the element's text as a number.
pub(crate) fn num_text<T: FromStr + FromHex>(el: &Element) -> Result<T, DomainError> {
    parse_num(el.text().trim(), &format!("<{}>", el.name()))
}

pub(crate) trait FromHex: Sized {
    fn from_hex(s: &str) -> Option<Self>;
}

macro_rules! from_hex {
    ($($t:ty),*) => {$(
        impl FromHex for $t {
            fn from_hex(s: &str) -> Option<Self> {
                <$t>::from_str_radix(s, 16).ok()
            }
        }
    )*};
}
from_hex!(u8, u16, u32, u64, i32, i64);

pub(crate) fn parse_num<T: FromStr + FromHex>(value: &str, what: &str) -> Result<T, DomainError> {
    let v = value.trim();
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => T::from_hex(hex),
        None => v.parse::<T>().ok(),
    };
    parsed.ok_or_else(|| DomainError::InvalidValue {
        what: what.to_string(),
        value: value.to_string(),
        reason: "not a number".to_string(),
    })
}

/// Reads `yes`/`no`/`on`/`off` (and `true`/`false`) attributes.
pub(crate) fn bool_attr(el: &Element, attr: &str) -> Result<Option<bool>, DomainError> {
    el.attr(attr)
        .map(|v| parse_bool(&v, &format!("<{}> attribute `{attr}`", el.name())))
        .transpose()
}

pub(crate) fn parse_bool(value: &str, what: &str) -> Result<bool, DomainError> {
    match value.trim() {
        "yes" | "on" | "true" | "1" => Ok(true),
        "no" | "off" | "false" | "0" => Ok(false),
        _ => Err(DomainError::InvalidValue {
            what: what.to_string(),
            value: value.to_string(),
            reason: "expected yes/no or on/off".to_string(),
        }),
    }
}

pub(crate) fn yes_no(v: bool) -> &'static str {
    if v { "yes" } else { "no" }
}

pub(crate) fn on_off(v: bool) -> &'static str {
    if v { "on" } else { "off" }
}

/// An attribute of a child element.
pub(crate) fn child_attr<'a>(el: &'a Element, child: &str, attr: &str) -> Option<Cow<'a, str>> {
    el.child(child).and_then(|c| c.attr(attr))
}

/// The trimmed text of a child element, `None` when missing or empty.
pub(crate) fn child_text(el: &Element, child: &str) -> Option<String> {
    el.child(child).and_then(Element::text_trimmed)
}

/// True when an element carries nothing: no attributes, no child nodes.
pub(crate) fn is_bare(el: &Element) -> bool {
    el.attributes().is_empty() && el.children().iter().all(crate::xml::Node::is_whitespace)
}

/// True when an element carries nothing but namespace declarations.
pub(crate) fn is_bare_except_ns(el: &Element) -> bool {
    el.attributes()
        .iter()
        .all(|a| a.declared_prefix().is_some())
        && el.children().iter().all(crate::xml::Node::is_whitespace)
}

/// Sets (or with `None` removes) an attribute of a child element. The child is
/// created at its conventional place when needed, and removed when the last of its
/// attributes goes and nothing else is left in it.
pub(crate) fn set_child_attr(
    el: &mut Element,
    child: &str,
    order: &[&str],
    attr: &str,
    value: Option<&str>,
) {
    match value {
        Some(v) => el.ensure_child_ordered(child, order).set_attr(attr, v),
        None => {
            if let Some(c) = el.child_mut(child) {
                c.remove_attr(attr);
                if is_bare(c) {
                    el.remove_child(child);
                }
            }
        }
    }
}

/// Sets (or with `None` removes) a child element holding text.
pub(crate) fn set_child_text(el: &mut Element, child: &str, order: &[&str], value: Option<&str>) {
    match value {
        Some(v) => el.ensure_child_ordered(child, order).set_text(v),
        None => {
            el.remove_child(child);
        }
    }
}

/// Adds or removes a marker element such as `<readonly/>`.
pub(crate) fn set_flag_child(el: &mut Element, child: &str, order: &[&str], present: bool) {
    if present {
        el.ensure_child_ordered(child, order);
    } else {
        el.remove_children(child);
    }
}
