//! Translations: gettext set-up and a formatting helper for named placeholders.
//!
//! Strings are marked with `gettext("…")`, `ngettext("…", "…", n)`, and, when they hold
//! values, `gettext_f("Cannot open {name}", &[("name", name)])`: the placeholders are
//! replaced after translation, so translators can move them. `po/meson.build` and
//! `tests/potfiles.rs` pass `--keyword=gettext_f --keyword=ngettext_f:1,2` to xgettext.

use gettextrs::{LocaleCategory, bind_textdomain_codeset, bindtextdomain, setlocale, textdomain};

pub use gettextrs::{gettext, ngettext};

use crate::config;

/// Binds the `vireo` domain to the build's locale directory and makes it the default
/// domain (GtkBuilder files without a domain use it too).
///
/// Failures are logged, not fatal: the application then runs untranslated.
pub fn init() {
    setlocale(LocaleCategory::LcAll, "");
    if let Err(e) = bindtextdomain(config::GETTEXT_PACKAGE, config::LOCALEDIR) {
        log::warn!("cannot bind the translations in {}: {e}", config::LOCALEDIR);
    }
    if let Err(e) = bind_textdomain_codeset(config::GETTEXT_PACKAGE, "UTF-8") {
        log::warn!("cannot set the codeset of the translations: {e}");
    }
    if let Err(e) = textdomain(config::GETTEXT_PACKAGE) {
        log::warn!("cannot select the translation domain: {e}");
    }
}

/// Translates `msgid` and replaces each `{name}` with its value.
///
/// ```ignore
/// gettext_f("Cannot start “{vm}”", &[("vm", &name)])
/// ```
pub fn gettext_f(msgid: &str, args: &[(&str, &str)]) -> String {
    substitute(&gettext(msgid), args)
}

#[allow(
    dead_code,
    reason = "no plural message yet; the keyword is registered for xgettext"
)]
/// Plural form of [`gettext_f`]: picks the translation for `n`, then replaces each
/// `{name}` with its value (pass `n` as an argument too if the text shows it).
pub fn ngettext_f(msgid: &str, msgid_plural: &str, n: u32, args: &[(&str, &str)]) -> String {
    substitute(&ngettext(msgid, msgid_plural, n), args)
}

/// Replaces `{name}` placeholders in one pass, so a value that itself contains `{…}`
/// is never substituted again. Unknown placeholders are left as they are.
fn substitute(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let value = after.find('}').and_then(|end| {
            let name = &after[..end];
            args.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value, end))
        });
        match value {
            Some((value, end)) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn replaces_named_placeholders() {
        assert_eq!(
            substitute(
                "Cannot start {vm} on {host}",
                &[("vm", "win11"), ("host", "h1")]
            ),
            "Cannot start win11 on h1"
        );
    }

    #[test]
    fn replaces_repeated_and_reordered_placeholders() {
        assert_eq!(
            substitute("{b} {a} {b}", &[("a", "1"), ("b", "2")]),
            "2 1 2"
        );
    }

    #[test]
    fn does_not_substitute_inside_values() {
        assert_eq!(
            substitute("{a} and {b}", &[("a", "{b}"), ("b", "x")]),
            "{b} and x"
        );
    }

    #[test]
    fn leaves_unknown_and_unclosed_braces() {
        assert_eq!(substitute("{nope} {x", &[("x", "1")]), "{nope} {x");
        assert_eq!(substitute("tail {", &[]), "tail {");
        assert_eq!(substitute("ünïcode {x}!", &[("x", "é")]), "ünïcode é!");
    }
}
