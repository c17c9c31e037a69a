//! Escaping and unescaping of text and attribute values.

use std::borrow::Cow;

/// Escapes character data for use as element text: `&`, `<` and `>` (and a carriage
/// return, which a parser would otherwise turn into a line feed).
pub fn escape_text(value: &str) -> Cow<'_, str> {
    if !value
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'\r'))
    {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Escapes an attribute value to be written between `quote` characters (`"` or `'`).
/// Tabs and line breaks become character references so that attribute-value
/// normalization gives the same value back.
pub fn escape_attr(value: &str, quote: char) -> Cow<'_, str> {
    let needs = |c: char| matches!(c, '&' | '<' | '\t' | '\n' | '\r') || c == quote;
    if !value.chars().any(needs) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '"' if quote == '"' => out.push_str("&quot;"),
            '\'' if quote == '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Resolves a predefined entity name or a character reference (`#10`, `#x1F`), as
/// written between `&` and `;`.
pub(crate) fn resolve_reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = if let Some(hex) = num.strip_prefix('x') {
                if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                u32::from_str_radix(hex, 16).ok()?
            } else {
                if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                num.parse::<u32>().ok()?
            };
            let c = char::from_u32(code)?;
            is_xml_char(c).then_some(c)
        }
    }
}

/// The XML 1.0 `Char` production.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Unescapes raw (escaped) text as found between tags (`attribute == false`) or in an
/// attribute value (`attribute == true`, which also applies attribute-value
/// normalization: literal tabs and line breaks become spaces). Line endings are
/// normalized to `\n`. References to entities that are not predefined (declared in a
/// DOCTYPE) are kept as written.
pub fn unescape(raw: &str, attribute: bool) -> Cow<'_, str> {
    if !raw
        .bytes()
        .any(|b| matches!(b, b'&' | b'\r') || (attribute && matches!(b, b'\t' | b'\n')))
    {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                if let Some(end) = rest.find(';')
                    && let Some(resolved) = resolve_reference(&rest[1..end])
                {
                    out.push(resolved);
                    rest = &rest[end + 1..];
                    continue;
                }
                out.push('&');
                rest = &rest[1..];
                continue;
            }
            '\r' => {
                out.push(if attribute { ' ' } else { '\n' });
                rest = rest.strip_prefix("\r\n").unwrap_or(&rest[1..]);
                continue;
            }
            '\t' | '\n' if attribute => out.push(' '),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(unescape("a &amp; b&#10;&#x41;", false), "a & b\nA");
        assert_eq!(unescape("a\nb\tc", true), "a b c");
        assert_eq!(unescape("a\r\nb", false), "a\nb");
        assert_eq!(unescape("&custom;", false), "&custom;");
        assert_eq!(escape_text("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(escape_attr("it's \"x\"", '\''), "it&apos;s \"x\"");
        assert_eq!(escape_attr("it's \"x\"", '"'), "it's &quot;x&quot;");
        let v = "x\ny\tz & 'q' \"r\"";
        assert_eq!(unescape(&escape_attr(v, '"'), true), v);
        assert_eq!(resolve_reference("#0"), None);
        assert_eq!(resolve_reference("#xD800"), None);
    }
}
