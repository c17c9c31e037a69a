//! Building a [`Document`] from `quick-xml` events.
//!
//! `quick-xml` finds the markup; every event's raw text is taken from the input by
//! position, so the tree keeps the exact spelling of everything. Start tags are split
//! into attributes here (quote style and spacing kept), with the well-formedness checks
//! `quick-xml` leaves to the caller: attribute syntax, duplicate attributes, entity
//! references, a single root, nothing but comments and whitespace around it.

use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::XmlError;
use super::escape::resolve_reference;
use super::tree::{Attribute, Document, Element, Indent, Node, is_blank};

/// Deeper nesting is refused (libxml2 refuses at 256 levels by default).
pub(crate) const MAX_DEPTH: usize = 1024;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

struct Open {
    element: Element,
    offset: usize,
    mark: usize,
}

struct Builder<'i> {
    /// The whole input, for error positions.
    input: &'i str,
    /// Offset of the parsed text within `input` (3 after a byte-order mark).
    base: usize,
    stack: Vec<Open>,
    bindings: Vec<(String, Arc<str>)>,
    prolog: Vec<Node>,
    root: Option<Element>,
    epilog: Vec<Node>,
    entities: Vec<String>,
    quotes: [usize; 2],
    /// How often a child is indented one tab (index 0) or N spaces (index N) more than
    /// its parent.
    steps: [usize; 9],
}

pub(crate) fn parse_document(input: &str) -> Result<Document, XmlError> {
    let (body, base) = match input.strip_prefix('\u{feff}') {
        Some(b) => (b, '\u{feff}'.len_utf8()),
        None => (input, 0),
    };
    let mut reader = Reader::from_str(body);
    {
        let config = reader.config_mut();
        config.check_comments = true;
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
    }
    let mut b = Builder {
        input,
        base,
        stack: Vec::new(),
        bindings: Vec::new(),
        prolog: Vec::new(),
        root: None,
        epilog: Vec::new(),
        entities: Vec::new(),
        quotes: [0, 0],
        steps: [0; 9],
    };
    loop {
        let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let at = usize::try_from(reader.error_position()).unwrap_or(0);
                return Err(b.error(at, e.to_string()));
            }
        };
        let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let raw = body.get(start..end).unwrap_or("");
        match event {
            Event::Start(_) => {
                let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
                b.open(inner, start)?;
            }
            Event::Empty(_) => {
                let inner = raw.get(1..raw.len().saturating_sub(2)).unwrap_or("");
                b.open(inner, start)?;
                b.close(start, "")?;
            }
            Event::End(_) => {
                let inner = raw.get(2..raw.len().saturating_sub(1)).unwrap_or("");
                b.close(start, inner)?;
            }
            Event::Text(_) => b.text(raw, start)?,
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(&r);
                if resolve_reference(&name).is_none() && !b.entities.iter().any(|e| *e == name) {
                    return Err(b.error(
                        start,
                        format!("undefined entity or invalid character reference `&{name};`"),
                    ));
                }
                b.text(raw, start)?;
            }
            Event::CData(_) => {
                let content = raw.get(9..raw.len().saturating_sub(3)).unwrap_or("");
                if b.stack.is_empty() {
                    return Err(b.error(start, "CDATA section outside the root element"));
                }
                b.attach(Node::CData(content.to_string()), start)?;
            }
            Event::Comment(_) => {
                let content = raw.get(4..raw.len().saturating_sub(3)).unwrap_or("");
                b.attach(Node::Comment(content.to_string()), start)?;
            }
            Event::PI(_) => {
                let content = raw.get(2..raw.len().saturating_sub(2)).unwrap_or("");
                let target = content.split(is_xml_space).next().unwrap_or("");
                if target.is_empty() {
                    return Err(b.error(start, "processing instruction without a target"));
                }
                if target.eq_ignore_ascii_case("xml") {
                    return Err(b.error(
                        start,
                        "XML declaration allowed only at the start of the document",
                    ));
                }
                b.attach(Node::ProcessingInstruction(content.to_string()), start)?;
            }
            Event::Decl(_) => {
                if start != 0 {
                    return Err(b.error(
                        start,
                        "XML declaration allowed only at the start of the document",
                    ));
                }
                if !raw.contains("version") {
                    return Err(b.error(start, "XML declaration without a version"));
                }
                b.prolog.push(Node::Declaration(raw.to_string()));
            }
            Event::DocType(_) => {
                if b.root.is_some() || !b.stack.is_empty() {
                    return Err(b.error(start, "DOCTYPE allowed only before the root element"));
                }
                if b.prolog.iter().any(|n| matches!(n, Node::DocType(_))) {
                    return Err(b.error(start, "more than one DOCTYPE"));
                }
                b.entities = declared_entities(raw);
                b.prolog.push(Node::DocType(raw.to_string()));
            }
            Event::Eof => break,
        }
    }
    b.finish(body.len())
}

/// The number of leading XML whitespace bytes.
fn ws_len(s: &str) -> usize {
    s.bytes()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(s.len())
}

/// The byte offset of the first byte that is whitespace or one of `stops`.
fn until(s: &str, stops: &[u8]) -> usize {
    s.bytes()
        .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r') || stops.contains(&b))
        .unwrap_or(s.len())
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Names of the general entities declared in a DOCTYPE's internal subset.
fn declared_entities(doctype: &str) -> Vec<String> {
    doctype
        .match_indices("<!ENTITY")
        .filter_map(|(i, m)| {
            let rest = doctype[i + m.len()..].trim_start_matches(is_xml_space);
            if rest.starts_with('%') {
                return None;
            }
            let name: String = rest.chars().take_while(|c| !is_xml_space(*c)).collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// The indentation of a line that starts right after `prev`.
fn indent_after(prev: Option<&Node>) -> Option<Indent> {
    match prev {
        Some(Node::Text(t)) => {
            let i = t.rfind('\n')?;
            let tail = &t[i + 1..];
            is_blank(tail).then(|| Indent::new(tail))
        }
        _ => None,
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii()
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.'
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => Err("missing name".to_string()),
        Some(c) if !is_name_start(c) => Err(format!("invalid name `{name}`")),
        _ if !chars.all(is_name_char) => Err(format!("invalid name `{name}`")),
        _ if name.starts_with(':') || name.ends_with(':') || name.matches(':').count() > 1 => {
            Err(format!("invalid qualified name `{name}`"))
        }
        _ => Ok(()),
    }
}

impl Builder<'_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> XmlError {
        XmlError::at(self.input, self.base + offset, message)
    }

    /// Handles a start tag; `inner` is the tag without `<` and `>` (or `/>`).
    fn open(&mut self, inner: &str, offset: usize) -> Result<(), XmlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.error(
                offset,
                format!("elements nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        if self.stack.is_empty() && self.root.is_some() {
            return Err(self.error(offset, "extra content after the root element"));
        }
        let mut element = self.parse_tag(inner, offset + 1)?;
        let prev = match self.stack.last() {
            Some(parent) => parent.element.children.last(),
            None => self.prolog.last(),
        };
        element.indent = match prev {
            None if self.stack.is_empty() && offset == 0 => Some(Indent::Spaces(0)),
            prev => indent_after(prev),
        };
        if let (Some(parent), Some(ci)) = (self.stack.last(), element.indent())
            && let Some(pi) = parent.element.indent()
            && let Some(step) = ci.strip_prefix(pi)
        {
            if step == "\t" {
                self.steps[0] += 1;
            } else if !step.is_empty()
                && step.len() < self.steps.len()
                && step.bytes().all(|b| b == b' ')
            {
                self.steps[step.len()] += 1;
            }
        }
        let mark = self.bindings.len();
        for (prefix, uri) in element.namespace_declarations() {
            self.bindings
                .push((prefix.to_string(), Arc::from(uri.as_ref())));
        }
        let prefix = element.prefix().unwrap_or("");
        element.namespace = if prefix == "xml" {
            Some(Arc::from(XML_NS))
        } else {
            self.bindings
                .iter()
                .rev()
                .find(|(p, _)| p == prefix)
                .map(|(_, u)| u.clone())
                .filter(|u| !u.is_empty())
        };
        self.stack.push(Open {
            element,
            offset,
            mark,
        });
        Ok(())
    }

    /// Handles an end tag (`inner` is `name` plus trailing whitespace, or empty for
    /// the end of a self-closing tag).
    fn close(&mut self, offset: usize, inner: &str) -> Result<(), XmlError> {
        let Some(mut open) = self.stack.pop() else {
            return Err(self.error(offset, "end tag without a start tag"));
        };
        if inner.is_empty() {
            open.element.self_closing = true;
        } else {
            open.element.self_closing = false;
            let tail = inner.get(open.element.name.len()..).unwrap_or("");
            if !is_blank(tail) || !inner.starts_with(open.element.name.as_str()) {
                return Err(self.error(
                    offset,
                    format!(
                        "expected `</{}>`, found `</{}>`",
                        open.element.name,
                        inner.trim_end()
                    ),
                ));
            }
            open.element.end_tail = tail.to_string();
        }
        self.bindings.truncate(open.mark);
        self.attach(Node::Element(Box::new(open.element)), offset)
    }

    fn text(&mut self, raw: &str, offset: usize) -> Result<(), XmlError> {
        let container = match self.stack.last_mut() {
            Some(parent) => &mut parent.element.children,
            None => {
                if !is_blank(raw) {
                    let what = if self.root.is_some() {
                        "after"
                    } else {
                        "before"
                    };
                    return Err(self.error(offset, format!("text {what} the root element")));
                }
                if self.root.is_some() {
                    &mut self.epilog
                } else {
                    &mut self.prolog
                }
            }
        };
        match container.last_mut() {
            Some(Node::Text(t)) => t.push_str(raw),
            _ => container.push(Node::Text(raw.to_string())),
        }
        Ok(())
    }

    fn attach(&mut self, node: Node, offset: usize) -> Result<(), XmlError> {
        if let Some(parent) = self.stack.last_mut() {
            parent.element.children.push(node);
            return Ok(());
        }
        match node {
            Node::Element(e) => {
                if self.root.is_some() {
                    return Err(self.error(offset, "extra content after the root element"));
                }
                self.root = Some(*e);
            }
            other if self.root.is_none() => self.prolog.push(other),
            other => self.epilog.push(other),
        }
        Ok(())
    }

    /// Splits a start tag into name, attributes and trailing whitespace.
    fn parse_tag(&mut self, inner: &str, offset: usize) -> Result<Element, XmlError> {
        let name_end = until(inner, &[]);
        let name = &inner[..name_end];
        check_name(name).map_err(|m| self.error(offset, m))?;
        let mut element = Element::new(name);
        element.fresh = false;
        element.self_closing = false;
        let mut pos = name_end;
        loop {
            let rest = &inner[pos..];
            let ws = ws_len(rest);
            if ws == rest.len() {
                element.tag_tail = rest.to_string();
                break;
            }
            if ws == 0 {
                return Err(self.error(offset + pos, "expected whitespace between attributes"));
            }
            let lead = &rest[..ws];
            let at = pos + ws;
            let rest = &inner[at..];
            let name_len = until(rest, b"=\"'");
            let attr_name = &rest[..name_len];
            check_name(attr_name)
                .map_err(|m| self.error(offset + at, format!("attribute: {m}")))?;
            let after_name = &rest[name_len..];
            let eq_len = ws_len(after_name);
            if !after_name[eq_len..].starts_with('=') {
                return Err(self.error(
                    offset + at,
                    format!("expected `=` after attribute `{attr_name}`"),
                ));
            }
            let after_eq = &after_name[eq_len + 1..];
            let ws2 = ws_len(after_eq);
            let eq = &after_name[..eq_len + 1 + ws2];
            let value_part = &after_eq[ws2..];
            let Some(quote) = value_part
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'')
            else {
                return Err(self.error(
                    offset + at,
                    format!("attribute `{attr_name}`: value must be quoted"),
                ));
            };
            let Some(close) = value_part[1..].find(quote) else {
                return Err(self.error(
                    offset + at,
                    format!("attribute `{attr_name}`: unterminated value"),
                ));
            };
            let value = &value_part[1..1 + close];
            let value_at = offset + at + name_len + eq.len() + 1;
            self.check_attr_value(value, value_at)?;
            if element.attrs.iter().any(|a| a.name == attr_name) {
                return Err(self.error(offset + at, format!("duplicate attribute `{attr_name}`")));
            }
            self.quotes[usize::from(quote == '\'')] += 1;
            element.attrs.push(Attribute {
                lead: (lead != " ").then(|| lead.into()),
                name: attr_name.to_string(),
                eq: (eq != "=").then(|| eq.into()),
                quote,
                raw_value: value.to_string(),
            });
            pos = at + name_len + eq.len() + 2 + close;
        }
        Ok(element)
    }

    fn check_attr_value(&self, value: &str, offset: usize) -> Result<(), XmlError> {
        if let Some(i) = value.find('<') {
            return Err(self.error(offset + i, "`<` in an attribute value"));
        }
        for (i, _) in value.match_indices('&') {
            let rest = &value[i + 1..];
            let Some(end) = rest.find(';') else {
                return Err(self.error(offset + i, "`&` without a reference in an attribute value"));
            };
            let name = &rest[..end];
            if resolve_reference(name).is_none() && !self.entities.iter().any(|e| e == name) {
                return Err(self.error(
                    offset + i,
                    format!("undefined entity or invalid character reference `&{name};`"),
                ));
            }
        }
        Ok(())
    }

    fn finish(mut self, end: usize) -> Result<Document, XmlError> {
        if let Some(open) = self.stack.last() {
            let (line, _) = super::line_column(self.input, self.base + open.offset);
            return Err(self.error(
                end,
                format!(
                    "unexpected end of input: <{}> opened at line {line} is not closed",
                    open.element.name
                ),
            ));
        }
        let Some(mut root) = self.root.take() else {
            return Err(self.error(end, "no root element"));
        };
        let quote = if self.quotes[1] > self.quotes[0] {
            '\''
        } else {
            '"'
        };
        // the most frequent step (the smaller one on ties); two spaces by default
        let mut unit = 2u8;
        let mut best = 0;
        for (i, &n) in self.steps.iter().enumerate() {
            if n > best {
                best = n;
                unit = u8::try_from(i).unwrap_or(2);
            }
        }
        fill_style(&mut root, quote, unit);
        Ok(Document {
            bom: self.base > 0,
            prolog: self.prolog,
            root,
            epilog: self.epilog,
        })
    }
}

/// Sets the quote style for new attributes and the indentation step on every element.
fn fill_style(element: &mut Element, inherited: char, unit: u8) {
    element.quote = element.attrs.first().map_or(inherited, |a| a.quote);
    element.unit = unit;
    let q = element.quote;
    for c in element.elements_mut() {
        fill_style(c, q, unit);
    }
}
