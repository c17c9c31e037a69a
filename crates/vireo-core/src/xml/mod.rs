//! A small, ordered, lossless XML tree.
//!
//! The tree is built from `quick-xml` events and keeps everything a hand-written libvirt
//! document contains: the XML declaration, a DOCTYPE, comments and whitespace around the
//! root, attribute order and quoting, raw (still escaped) text and attribute values,
//! CDATA sections, processing instructions, `<a/>` versus `<a></a>`, and the whitespace
//! inside tags. Writing an unmodified [`Document`] gives the input back byte for byte.
//!
//! Edits touch only the nodes they change. New attributes use the quote style of the
//! element (or the document), and new child elements are indented like their siblings
//! (or one level deeper than their parent, two spaces by default as libvirt writes), so
//! an edited document still looks hand-written.
//!
//! Namespace prefixes are resolved while parsing: [`Element::namespace`] gives the URI of
//! an element's namespace, and [`Element::child_ns`] finds e.g. `qemu:commandline` by the
//! URI `http://libvirt.org/schemas/domain/qemu/1.0`, whatever prefix the document uses.

mod escape;
mod parse;
mod split;
mod tree;

pub use escape::{escape_attr, escape_text, unescape};
pub use split::{Segment, split_documents};
pub use tree::{Attribute, Document, Element, Node};

/// Errors of the XML layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The input is not well-formed XML. `line` and `column` are 1-based; the column
    /// counts characters, not bytes.
    #[error("malformed XML at line {line}, column {column}: {message}")]
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    /// The document is well-formed but its root element is not the expected one.
    #[error("expected root element <{expected}>, found <{found}>")]
    UnexpectedRoot { expected: String, found: String },
}

impl XmlError {
    /// Builds a [`XmlError::Malformed`] for the byte offset `offset` of `input`.
    pub(crate) fn at(input: &str, offset: usize, message: impl Into<String>) -> XmlError {
        let (line, column) = line_column(input, offset);
        XmlError::Malformed {
            line,
            column,
            message: message.into(),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(input: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(input.len());
    while !input.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &input[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
