//! Splitting a file that holds several XML documents, possibly with other text around
//! them (virt-install test outputs: error messages, cloud-config, one `<domain>` after
//! another).

use quick_xml::Reader;
use quick_xml::events::Event;

/// A part of a split file. The texts of all segments, in order, make up the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// One XML document: a top-level element with the declaration, comments and
    /// whitespace before it and the rest of its last line.
    Xml {
        /// Byte offset in the input.
        offset: usize,
        text: &'a str,
    },
    /// Text that is not XML (or blank lines between documents).
    Other {
        /// Byte offset in the input.
        offset: usize,
        text: &'a str,
    },
}

impl<'a> Segment<'a> {
    /// The segment's text.
    pub fn text(&self) -> &'a str {
        match self {
            Segment::Xml { text, .. } | Segment::Other { text, .. } => text,
        }
    }

    /// The byte offset of the segment in the input.
    pub fn offset(&self) -> usize {
        match self {
            Segment::Xml { offset, .. } | Segment::Other { offset, .. } => *offset,
        }
    }

    /// True for an XML document.
    pub fn is_xml(&self) -> bool {
        matches!(self, Segment::Xml { .. })
    }

    /// True for non-XML text that is only whitespace.
    pub fn is_blank(&self) -> bool {
        matches!(self, Segment::Other { text, .. } if text.trim().is_empty())
    }
}

/// Splits `input` into XML documents and the non-XML text between them.
///
/// A document starts on a line whose first non-blank character is `<` and extends to
/// the end of the line on which its top-level element ends. A line that does not
/// start a well-formed element (with only comments, declarations and whitespace before
/// it) is non-XML text. Blank lines between documents are reported as
/// [`Segment::Other`] too; see [`Segment::is_blank`].
pub fn split_documents(input: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut other_start: Option<usize> = None;
    let mut pos = 0;
    while pos < input.len() {
        let line_end = input[pos..].find('\n').map_or(input.len(), |i| pos + i + 1);
        let line = &input[pos..line_end];
        let candidate = line.trim_start().starts_with('<');
        let doc_end = if candidate {
            document_end(&input[pos..])
        } else {
            None
        };
        match doc_end {
            Some(len) => {
                if let Some(s) = other_start.take() {
                    out.push(Segment::Other {
                        offset: s,
                        text: &input[s..pos],
                    });
                }
                let mut end = pos + len;
                // take the rest of the last line when it is blank
                let rest_end = input[end..].find('\n').map_or(input.len(), |i| end + i + 1);
                if input[end..rest_end].trim().is_empty() {
                    end = rest_end;
                }
                out.push(Segment::Xml {
                    offset: pos,
                    text: &input[pos..end],
                });
                pos = end;
            }
            None => {
                other_start.get_or_insert(pos);
                pos = line_end;
            }
        }
    }
    if let Some(s) = other_start {
        out.push(Segment::Other {
            offset: s,
            text: &input[s..],
        });
    }
    out
}

/// The length of the document at the start of `text`: up to the end of its top-level
/// element, or `None` when `text` does not start with one.
fn document_end(text: &str) -> Option<usize> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().ok()?;
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return usize::try_from(reader.buffer_position()).ok();
                }
            }
            Event::Empty(_) if depth == 0 => {
                return usize::try_from(reader.buffer_position()).ok();
            }
            Event::Text(t) if depth == 0 && !t.iter().all(|b| b.is_ascii_whitespace()) => {
                return None;
            }
            Event::GeneralRef(_) | Event::CData(_) if depth == 0 => return None,
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_documents_and_text() {
        let input = "#cloud-config\nfoo: 1\n\n<domain>\n  <name>a</name>\n</domain>\n<domain>\n</domain>\nERROR x < y\n";
        let parts = split_documents(input);
        let texts: Vec<(bool, &str)> = parts.iter().map(|s| (s.is_xml(), s.text())).collect();
        assert_eq!(
            texts,
            vec![
                (false, "#cloud-config\nfoo: 1\n\n"),
                (true, "<domain>\n  <name>a</name>\n</domain>\n"),
                (true, "<domain>\n</domain>\n"),
                (false, "ERROR x < y\n"),
            ]
        );
        let joined: String = parts.iter().map(|s| s.text()).collect();
        assert_eq!(joined, input);
    }

    #[test]
    fn keeps_declaration_and_comments_with_the_document() {
        let input = "<?xml version=\"1.0\"?>\n<!-- hi -->\n<a/>\n<b>\n</b>";
        let parts = split_documents(input);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0].text(),
            "<?xml version=\"1.0\"?>\n<!-- hi -->\n<a/>\n"
        );
        assert_eq!(parts[1].text(), "<b>\n</b>");
    }

    #[test]
    fn unclosed_document_is_other_text() {
        let parts = split_documents("<a>\n<b>\n");
        assert!(parts.iter().all(|s| !s.is_xml()));
    }
}
