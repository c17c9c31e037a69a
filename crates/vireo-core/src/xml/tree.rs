//! The tree: [`Document`], [`Element`], [`Node`], [`Attribute`], and writing.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::XmlError;
use super::escape::{escape_attr, escape_text, unescape};

/// A node in an element's content (or around the root of a document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element (boxed: nodes stay small, so large child lists move cheaply).
    Element(Box<Element>),
    /// Character data, raw: still escaped, exactly as written (`a &amp; b`).
    Text(String),
    /// The content of a `<![CDATA[…]]>` section.
    CData(String),
    /// The content of a `<!--…-->` comment.
    Comment(String),
    /// The content of a processing instruction `<?…?>` (target and data).
    ProcessingInstruction(String),
    /// The XML declaration, raw, `<?xml version="1.0"?>` included.
    Declaration(String),
    /// The document type declaration, raw, `<!DOCTYPE …>` included.
    DocType(String),
}

impl Node {
    /// The element, if this node is one.
    pub fn as_element(&self) -> Option<&Element> {
        match self {
            Node::Element(e) => Some(&**e),
            _ => None,
        }
    }

    /// The element, if this node is one.
    pub fn as_element_mut(&mut self) -> Option<&mut Element> {
        match self {
            Node::Element(e) => Some(&mut **e),
            _ => None,
        }
    }

    /// True for text that is only XML whitespace (formatting between elements).
    pub fn is_whitespace(&self) -> bool {
        matches!(self, Node::Text(t) if is_blank(t))
    }

    fn write(&self, out: &mut String) {
        match self {
            Node::Element(e) => e.write(out),
            Node::Text(t) => out.push_str(t),
            Node::CData(t) => {
                out.push_str("<![CDATA[");
                out.push_str(t);
                out.push_str("]]>");
            }
            Node::Comment(t) => {
                out.push_str("<!--");
                out.push_str(t);
                out.push_str("-->");
            }
            Node::ProcessingInstruction(t) => {
                out.push_str("<?");
                out.push_str(t);
                out.push_str("?>");
            }
            Node::Declaration(t) | Node::DocType(t) => out.push_str(t),
        }
    }
}

pub(crate) fn is_blank(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

const SPACES: &str = "                                                                                                                                ";
const TABS: &str = "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";

/// An element's indentation, stored without allocating in the usual cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Indent {
    Spaces(u8),
    Tabs(u8),
    Other(Box<str>),
}

impl Indent {
    pub(crate) fn new(s: &str) -> Indent {
        let n = u8::try_from(s.len()).ok();
        match n {
            Some(n) if usize::from(n) <= SPACES.len() && s.bytes().all(|b| b == b' ') => {
                Indent::Spaces(n)
            }
            Some(n) if usize::from(n) <= TABS.len() && s.bytes().all(|b| b == b'\t') => {
                Indent::Tabs(n)
            }
            _ => Indent::Other(s.into()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Indent::Spaces(n) => SPACES.get(..usize::from(*n)).unwrap_or(""),
            Indent::Tabs(n) => TABS.get(..usize::from(*n)).unwrap_or(""),
            Indent::Other(s) => s,
        }
    }
}

/// An attribute as written: the whitespace before it, its qualified name, the text
/// between the name and the opening quote (normally `=`), the quote character and the
/// raw (escaped) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// `None` for the usual single space.
    pub(crate) lead: Option<Box<str>>,
    pub(crate) name: String,
    /// `None` for a plain `=`.
    pub(crate) eq: Option<Box<str>>,
    pub(crate) quote: char,
    pub(crate) raw_value: String,
}

impl Attribute {
    /// The qualified name as written (`type`, `xmlns:qemu`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value with references resolved and attribute-value normalization applied.
    pub fn value(&self) -> Cow<'_, str> {
        unescape(&self.raw_value, true)
    }

    /// The value exactly as written between the quotes.
    pub fn raw_value(&self) -> &str {
        &self.raw_value
    }

    /// The quote character used (`"` or `'`).
    pub fn quote(&self) -> char {
        self.quote
    }

    /// For a namespace declaration, the declared prefix (`""` for a default namespace
    /// declaration `xmlns=`).
    pub fn declared_prefix(&self) -> Option<&str> {
        if self.name == "xmlns" {
            Some("")
        } else {
            self.name.strip_prefix("xmlns:")
        }
    }

    fn write(&self, out: &mut String) {
        out.push_str(self.lead.as_deref().unwrap_or(" "));
        out.push_str(&self.name);
        out.push_str(self.eq.as_deref().unwrap_or("="));
        out.push(self.quote);
        out.push_str(&self.raw_value);
        out.push(self.quote);
    }
}

/// An element with its attributes and content, and enough formatting detail to be
/// written back exactly as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub(crate) name: String,
    pub(crate) namespace: Option<Arc<str>>,
    pub(crate) attrs: Vec<Attribute>,
    /// Whitespace between the last attribute (or the name) and `>` / `/>`.
    pub(crate) tag_tail: String,
    pub(crate) children: Vec<Node>,
    /// Written as `<a/>` when it has no children.
    pub(crate) self_closing: bool,
    /// Whitespace between the name and `>` in the end tag.
    pub(crate) end_tail: String,
    /// The whitespace that starts the element's line, when the element starts a line.
    pub(crate) indent: Option<Indent>,
    /// The document's indentation step: a number of spaces, or 0 for a tab.
    pub(crate) unit: u8,
    /// The quote character for new attributes.
    pub(crate) quote: char,
    /// Built by the API and not yet placed in a tree: formatted when inserted.
    pub(crate) fresh: bool,
}

impl Element {
    /// A new, empty element (`<name/>`). Give it a prefixed name (`vireo:vm`) and an
    /// `xmlns:vireo` attribute for a namespaced element.
    pub fn new(name: impl Into<String>) -> Element {
        Element {
            name: name.into(),
            namespace: None,
            attrs: Vec::new(),
            tag_tail: String::new(),
            children: Vec::new(),
            self_closing: true,
            end_tail: String::new(),
            indent: None,
            unit: 2,
            quote: '"',
            fresh: true,
        }
    }

    /// Builder: sets an attribute.
    pub fn with_attr(mut self, name: &str, value: &str) -> Element {
        self.set_attr(name, value);
        self
    }

    /// Builder: sets the text content.
    pub fn with_text(mut self, text: &str) -> Element {
        self.set_text(text);
        self
    }

    /// Builder: appends a child element.
    pub fn with_child(mut self, child: Element) -> Element {
        self.append_child(child);
        self
    }

    // ----- names and namespaces -----

    /// The qualified name as written, prefix included (`qemu:commandline`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name without its prefix.
    pub fn local_name(&self) -> &str {
        self.name.split_once(':').map_or(&self.name, |(_, l)| l)
    }

    /// The prefix, if the name has one.
    pub fn prefix(&self) -> Option<&str> {
        self.name.split_once(':').map(|(p, _)| p)
    }

    /// The namespace URI the element's prefix (or the default namespace) resolves to.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// True when the element is `local` in namespace `uri`.
    pub fn is(&self, uri: &str, local: &str) -> bool {
        self.namespace() == Some(uri) && self.local_name() == local
    }

    /// The namespace declarations on this element, as (prefix, URI); the prefix is
    /// `""` for a default namespace.
    pub fn namespace_declarations(&self) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
        self.attrs
            .iter()
            .filter_map(|a| a.declared_prefix().map(|p| (p, a.value())))
    }

    // ----- attributes -----

    /// All attributes in document order.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attrs
    }

    /// The value of an attribute (by qualified name), unescaped.
    pub fn attr(&self, name: &str) -> Option<Cow<'_, str>> {
        self.attrs
            .iter()
            .find(|a| a.name == name)
            .map(Attribute::value)
    }

    /// True when the attribute is present.
    pub fn has_attr(&self, name: &str) -> bool {
        self.attrs.iter().any(|a| a.name == name)
    }

    /// Sets an attribute. An existing attribute keeps its position, quoting and, when
    /// the value does not change, its raw text; a new one is appended.
    pub fn set_attr(&mut self, name: &str, value: &str) {
        if let Some(a) = self.attrs.iter_mut().find(|a| a.name == name) {
            if a.value() != value {
                a.raw_value = escape_attr(value, a.quote).into_owned();
            }
        } else {
            let lead = self.attrs.last().and_then(|a| a.lead.clone());
            self.attrs.push(Attribute {
                lead,
                name: name.to_string(),
                eq: None,
                quote: self.quote,
                raw_value: escape_attr(value, self.quote).into_owned(),
            });
        }
        let declared = if name == "xmlns" {
            Some("")
        } else {
            name.strip_prefix("xmlns:")
        };
        if let Some(p) = declared
            && self.prefix().unwrap_or("") == p
        {
            self.namespace = Some(Arc::from(value));
        }
    }

    /// Sets the attribute when `value` is `Some`, removes it when `None`.
    pub fn set_attr_opt(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(v) => self.set_attr(name, v),
            None => {
                self.remove_attr(name);
            }
        }
    }

    /// Removes an attribute, giving back its (unescaped) value.
    pub fn remove_attr(&mut self, name: &str) -> Option<String> {
        let i = self.attrs.iter().position(|a| a.name == name)?;
        let a = self.attrs.remove(i);
        Some(a.value().into_owned())
    }

    // ----- content -----

    /// All child nodes in order.
    pub fn children(&self) -> &[Node] {
        &self.children
    }

    /// All child nodes, mutable. Prefer the element helpers, which keep the
    /// indentation consistent.
    pub fn children_mut(&mut self) -> &mut Vec<Node> {
        &mut self.children
    }

    /// The child elements in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(Node::as_element)
    }

    /// The child elements in order, mutable.
    pub fn elements_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        self.children.iter_mut().filter_map(Node::as_element_mut)
    }

    /// The first child element with this qualified name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The first child element with this qualified name, mutable.
    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.elements_mut().find(|e| e.name == name)
    }

    /// All child elements with this qualified name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.name == name)
    }

    /// All child elements with this qualified name, mutable.
    pub fn children_named_mut<'a>(
        &'a mut self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a mut Element> {
        self.elements_mut().filter(move |e| e.name == name)
    }

    /// The first child element `local` in namespace `uri`, whatever its prefix.
    pub fn child_ns(&self, uri: &str, local: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(uri, local))
    }

    /// The first child element `local` in namespace `uri`, mutable.
    pub fn child_ns_mut(&mut self, uri: &str, local: &str) -> Option<&mut Element> {
        self.elements_mut().find(|e| e.is(uri, local))
    }

    /// All child elements `local` in namespace `uri`.
    pub fn children_ns<'a>(
        &'a self,
        uri: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a Element> {
        self.elements().filter(move |e| e.is(uri, local))
    }

    /// The text content of this element's own text and CDATA children, unescaped
    /// (child elements are not descended into).
    pub fn text(&self) -> Cow<'_, str> {
        let mut parts = self.children.iter().filter_map(|n| match n {
            Node::Text(t) => Some(unescape(t, false)),
            Node::CData(t) => Some(Cow::Borrowed(t.as_str())),
            _ => None,
        });
        let Some(first) = parts.next() else {
            return Cow::Borrowed("");
        };
        match parts.next() {
            None => first,
            Some(second) => {
                let mut s = first.into_owned();
                s.push_str(&second);
                for p in parts {
                    s.push_str(&p);
                }
                Cow::Owned(s)
            }
        }
    }

    /// The text, trimmed, or `None` when empty.
    pub fn text_trimmed(&self) -> Option<String> {
        let t = self.text();
        let t = t.trim();
        (!t.is_empty()).then(|| t.to_string())
    }

    /// Replaces all content by this text (unchanged when the text is already equal).
    pub fn set_text(&mut self, text: &str) {
        let simple = self.children.iter().all(|n| matches!(n, Node::Text(_)));
        if simple && self.text() == text {
            return;
        }
        self.children.clear();
        if !text.is_empty() {
            self.children
                .push(Node::Text(escape_text(text).into_owned()));
        }
        self.open_tag();
    }

    /// The text of the first child element with this name.
    pub fn child_text(&self, name: &str) -> Option<Cow<'_, str>> {
        self.child(name).map(Element::text)
    }

    /// True when written as `<a/>`.
    pub fn is_self_closing(&self) -> bool {
        self.self_closing && self.children.is_empty()
    }

    /// The whitespace at the start of the element's line, when it starts a line.
    pub fn indent(&self) -> Option<&str> {
        self.indent.as_ref().map(Indent::as_str)
    }

    // ----- paths -----

    /// The first element at a `/`-separated path of qualified names below this one
    /// (`find("os/loader")`).
    pub fn find(&self, path: &str) -> Option<&Element> {
        let mut cur = self;
        for step in path.split('/').filter(|s| !s.is_empty()) {
            cur = cur.child(step)?;
        }
        Some(cur)
    }

    /// The first element at a path, mutable.
    pub fn find_mut(&mut self, path: &str) -> Option<&mut Element> {
        let mut cur = self;
        for step in path.split('/').filter(|s| !s.is_empty()) {
            cur = cur.child_mut(step)?;
        }
        Some(cur)
    }

    /// All elements at a path (every match at every step).
    pub fn find_all<'a>(&'a self, path: &str) -> Vec<&'a Element> {
        let mut cur = vec![self];
        for step in path.split('/').filter(|s| !s.is_empty()) {
            cur = cur
                .into_iter()
                .flat_map(|e| e.elements().filter(|c| c.name == step))
                .collect();
        }
        cur
    }

    // ----- structural edits -----

    /// The existing child with this name, or a new one appended after the last child
    /// element.
    pub fn ensure_child(&mut self, name: &str) -> &mut Element {
        match self.child_index(name) {
            Some(i) => self.element_at_node(i),
            None => self.append_child(Element::new(name)),
        }
    }

    /// The existing child with this name, or a new one inserted at the position given
    /// by `order` (a list of sibling names in their conventional order).
    pub fn ensure_child_ordered(&mut self, name: &str, order: &[&str]) -> &mut Element {
        match self.child_index(name) {
            Some(i) => self.element_at_node(i),
            None => self.insert_child_ordered(Element::new(name), order),
        }
    }

    /// The first child element matching `pred`, or `make()` appended when there is
    /// none.
    pub fn ensure_child_with(
        &mut self,
        pred: impl Fn(&Element) -> bool,
        make: impl FnOnce() -> Element,
    ) -> &mut Element {
        let found = self
            .children
            .iter()
            .position(|n| matches!(n, Node::Element(e) if pred(e)));
        match found {
            Some(i) => self.element_at_node(i),
            None => self.append_child(make()),
        }
    }

    /// The child element number `index` (counting elements only), mutable.
    pub fn element_mut(&mut self, index: usize) -> Option<&mut Element> {
        self.elements_mut().nth(index)
    }

    /// Follows a path, creating missing elements at the end of their parents.
    pub fn ensure_path(&mut self, path: &str) -> &mut Element {
        let mut cur = self;
        for step in path.split('/').filter(|s| !s.is_empty()) {
            cur = cur.ensure_child(step);
        }
        cur
    }

    /// Appends a child element after the last child element (before trailing
    /// whitespace and comments), indented like its siblings.
    pub fn append_child(&mut self, child: Element) -> &mut Element {
        let last = self
            .children
            .iter()
            .rposition(|n| matches!(n, Node::Element(_)));
        let at = match last {
            Some(l) => Position::After(l),
            None => Position::Append,
        };
        self.insert_at(at, child)
    }

    /// Inserts a child element before the child element number `index` (counting
    /// elements only), or after the last one when `index` is the number of elements.
    pub fn insert_child(&mut self, index: usize, child: Element) -> &mut Element {
        match self.element_node_index(index) {
            Some(i) => self.insert_at(Position::Before(i), child),
            None => self.append_child(child),
        }
    }

    /// Inserts a child element at the place `order` gives it: right after its closest
    /// predecessor in `order` that is present (the last of them, so a new `<disk>`
    /// follows the existing disks), else right before its closest successor. Names
    /// missing from `order` are appended at the end.
    pub fn insert_child_ordered(&mut self, child: Element, order: &[&str]) -> &mut Element {
        let rank = |name: &str| order.iter().position(|o| *o == name);
        let Some(k) = rank(&child.name) else {
            return self.append_child(child);
        };
        // (rank, node index) of the best predecessor and successor
        let mut after: Option<(usize, usize)> = None;
        let mut before: Option<(usize, usize)> = None;
        for (i, n) in self.children.iter().enumerate() {
            if let Node::Element(e) = n
                && let Some(r) = rank(&e.name)
            {
                if r <= k {
                    if after.is_none_or(|(ar, _)| r >= ar) {
                        after = Some((r, i));
                    }
                } else if before.is_none_or(|(br, _)| r < br) {
                    before = Some((r, i));
                }
            }
        }
        match (after, before) {
            (Some((_, a)), _) => self.insert_at(Position::After(a), child),
            (None, Some((_, b))) => self.insert_at(Position::Before(b), child),
            (None, None) => self.append_child(child),
        }
    }

    /// Inserts `child` right after the child element `sibling_index` (counting
    /// elements only); appends when there is no such element.
    pub fn insert_child_after(&mut self, sibling_index: usize, child: Element) -> &mut Element {
        match self.element_node_index(sibling_index) {
            Some(i) => self.insert_at(Position::After(i), child),
            None => self.append_child(child),
        }
    }

    /// Removes the first child element with this name (and the indentation before it).
    pub fn remove_child(&mut self, name: &str) -> Option<Element> {
        let i = self.child_index(name)?;
        self.remove_node(i)
    }

    /// Removes all child elements with this name; gives the number removed.
    pub fn remove_children(&mut self, name: &str) -> usize {
        self.retain_elements(|e| e.name != name)
    }

    /// Removes the child element number `index` (counting elements only).
    pub fn remove_element_at(&mut self, index: usize) -> Option<Element> {
        let i = self.element_node_index(index)?;
        self.remove_node(i)
    }

    /// Keeps only the child elements for which `keep` is true; gives the number
    /// removed.
    pub fn retain_elements(&mut self, mut keep: impl FnMut(&Element) -> bool) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while i < self.children.len() {
            let drop = matches!(&self.children[i], Node::Element(e) if !keep(e));
            if drop {
                let before = self.children.len();
                self.remove_node(i);
                let gone = before - self.children.len();
                removed += 1;
                // the node and possibly its preceding whitespace are gone
                i = (i + 1).saturating_sub(gone);
            } else {
                i += 1;
            }
        }
        removed
    }

    /// Replaces the whole content by `children` elements, formatted like new ones.
    pub fn replace_children(&mut self, children: Vec<Element>) {
        self.children.clear();
        for c in children {
            self.append_child(c);
        }
        if self.children.is_empty() {
            self.self_closing = true;
        }
    }

    // ----- internals -----

    fn child_index(&self, name: &str) -> Option<usize> {
        self.children
            .iter()
            .position(|n| matches!(n, Node::Element(e) if e.name == name))
    }

    fn element_node_index(&self, index: usize) -> Option<usize> {
        self.children
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n, Node::Element(_)))
            .nth(index)
            .map(|(i, _)| i)
    }

    fn element_at_node(&mut self, i: usize) -> &mut Element {
        match &mut self.children[i] {
            Node::Element(e) => e,
            // callers pass indices of element nodes only
            _ => unreachable!("node {i} is not an element"),
        }
    }

    fn open_tag(&mut self) {
        if self.self_closing {
            self.self_closing = false;
            if is_blank(&self.tag_tail) {
                self.tag_tail.clear();
            }
        }
    }

    fn unit_str(&self) -> String {
        if self.unit == 0 {
            "\t".to_string()
        } else {
            " ".repeat(usize::from(self.unit))
        }
    }

    /// The indentation for a new child inserted next to node `near`.
    fn child_indent(&self, near: Option<usize>) -> Option<String> {
        if let Some(i) = near
            && let Some(Node::Element(e)) = self.children.get(i)
            && let Some(i) = e.indent()
        {
            return Some(i.to_string());
        }
        if let Some(i) = self.elements().find_map(Element::indent) {
            return Some(i.to_string());
        }
        if self.elements().next().is_some() {
            return None;
        }
        let mixed = self
            .children
            .iter()
            .any(|n| !matches!(n, Node::Text(t) if is_blank(t)) && !matches!(n, Node::Comment(_)));
        if mixed {
            return None;
        }
        self.indent().map(|i| format!("{i}{}", self.unit_str()))
    }

    fn insert_at(&mut self, at: Position, mut child: Element) -> &mut Element {
        let near = match at {
            Position::After(i) | Position::Before(i) => Some(i),
            Position::Append => None,
        };
        let indent = self.child_indent(near);
        if !self.fresh {
            // placed in a tree: lay the new subtree out (a subtree still being built is
            // laid out when it is placed)
            child.adopt(self);
            if child.fresh {
                child.format_fresh(indent.clone(), self.unit, self.quote);
            } else if child.indent.is_none() {
                child.indent = indent.as_deref().map(Indent::new);
            }
        }
        self.open_tag();
        let ws = indent.as_ref().map(|i| Node::Text(format!("\n{i}")));
        let pos = match (at, ws) {
            (Position::After(i), Some(ws)) if self.pretty_after(i) => {
                self.children.insert(i + 1, ws);
                i + 2
            }
            (Position::After(i), _) => i + 1,
            (Position::Before(i), Some(ws)) if i > 0 && self.children[i - 1].is_whitespace() => {
                self.children.insert(i, ws);
                i
            }
            (Position::Before(i), _) => i,
            (Position::Append, Some(ws)) => {
                let closing = self.indent().map(|i| format!("\n{i}"));
                // content is blank (or comments): rebuild it around the new child
                self.children.retain(|n| !n.is_whitespace());
                self.children.push(ws);
                let pos = self.children.len();
                if let Some(c) = closing {
                    self.children.push(Node::Text(c));
                }
                pos
            }
            (Position::Append, None) => self.children.len(),
        };
        self.children.insert(pos, Node::Element(Box::new(child)));
        self.element_at_node(pos)
    }

    /// True when element `i` is preceded or followed by line-breaking whitespace.
    fn pretty_after(&self, i: usize) -> bool {
        let ws =
            |n: Option<&Node>| matches!(n, Some(Node::Text(t)) if is_blank(t) && t.contains('\n'));
        ws(i.checked_sub(1).and_then(|j| self.children.get(j))) || ws(self.children.get(i + 1))
    }

    fn remove_node(&mut self, i: usize) -> Option<Element> {
        if i >= self.children.len() {
            return None;
        }
        let Node::Element(removed) = self.children.remove(i) else {
            return None;
        };
        let removed = *removed;
        if i > 0 && self.children[i - 1].is_whitespace() {
            self.children.remove(i - 1);
        } else if i == 0
            && self.children.first().is_some_and(Node::is_whitespace)
            && self.children.len() > 1
        {
            // the first child: drop the whitespace that preceded the next sibling
            // only when the content would otherwise start without a line break
            let next_is_element = matches!(self.children.get(1), Some(Node::Element(_)));
            if next_is_element {
                self.children.remove(0);
            }
        }
        if self.children.iter().all(Node::is_whitespace) {
            self.children.clear();
            self.self_closing = true;
        }
        Some(removed)
    }

    /// Resolves the namespace of a newly inserted subtree from its own declarations
    /// and those visible on its new parent.
    fn adopt(&mut self, parent: &Element) {
        if !self.fresh {
            return;
        }
        let mut bindings: Vec<(String, Arc<str>)> = Vec::new();
        if let Some(ns) = &parent.namespace {
            bindings.push((parent.prefix().unwrap_or("").to_string(), ns.clone()));
        }
        for (p, uri) in parent.namespace_declarations() {
            bindings.push((p.to_string(), Arc::from(uri.as_ref())));
        }
        self.resolve_fresh(&mut bindings);
    }

    fn resolve_fresh(&mut self, bindings: &mut Vec<(String, Arc<str>)>) {
        let mark = bindings.len();
        for (p, uri) in self.namespace_declarations() {
            bindings.push((p.to_string(), Arc::from(uri.as_ref())));
        }
        if self.namespace.is_none() {
            let prefix = self.prefix().unwrap_or("");
            self.namespace = bindings
                .iter()
                .rev()
                .find(|(p, _)| p == prefix)
                .map(|(_, u)| u.clone())
                .filter(|u| !u.is_empty());
        }
        for c in self.elements_mut() {
            if c.fresh {
                c.resolve_fresh(bindings);
            }
        }
        bindings.truncate(mark);
    }

    /// Lays out an element built by the API for its place in a tree: indentation,
    /// the document's quote style.
    fn format_fresh(&mut self, indent: Option<String>, unit: u8, quote: char) {
        self.fresh = false;
        self.unit = unit;
        if self.quote != quote {
            self.quote = quote;
            for a in &mut self.attrs {
                if a.quote != quote {
                    let v = a.value().into_owned();
                    a.quote = quote;
                    a.raw_value = escape_attr(&v, quote).into_owned();
                }
            }
        }
        let only_elements = !self.children.is_empty()
            && self.children.iter().all(|n| matches!(n, Node::Element(_)));
        let child_indent = indent.as_ref().map(|i| format!("{i}{}", self.unit_str()));
        self.indent = indent.as_deref().map(Indent::new);
        let old = std::mem::take(&mut self.children);
        for n in old {
            match n {
                Node::Element(mut e) => {
                    if e.fresh {
                        e.format_fresh(
                            if only_elements {
                                child_indent.clone()
                            } else {
                                None
                            },
                            unit,
                            quote,
                        );
                    }
                    if only_elements && let Some(ci) = &child_indent {
                        self.children.push(Node::Text(format!("\n{ci}")));
                    }
                    self.children.push(Node::Element(e));
                }
                other => self.children.push(other),
            }
        }
        if only_elements && let Some(i) = self.indent() {
            self.children.push(Node::Text(format!("\n{i}")));
        }
    }

    // ----- writing -----

    pub(crate) fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for a in &self.attrs {
            a.write(out);
        }
        out.push_str(&self.tag_tail);
        if self.self_closing && self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            c.write(out);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push_str(&self.end_tail);
        out.push('>');
    }
}

#[derive(Debug, Clone, Copy)]
enum Position {
    After(usize),
    Before(usize),
    Append,
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

/// A whole document: what comes before the root (declaration, DOCTYPE, comments,
/// whitespace), the root element, and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub(crate) bom: bool,
    pub(crate) prolog: Vec<Node>,
    pub(crate) root: Element,
    pub(crate) epilog: Vec<Node>,
}

impl Document {
    /// Parses a document. Errors carry the line and column of the problem.
    pub fn parse(input: &str) -> Result<Document, XmlError> {
        super::parse::parse_document(input)
    }

    /// A document made of a root element only (written with a trailing newline).
    pub fn new(mut root: Element) -> Document {
        let mut format_root = Element::new("");
        format_root.indent = Some(Indent::Spaces(0));
        root.adopt(&format_root);
        if root.fresh {
            root.format_fresh(Some(String::new()), 2, '"');
        }
        Document {
            bom: false,
            prolog: Vec::new(),
            root,
            epilog: vec![Node::Text("\n".to_string())],
        }
    }

    /// The root element.
    pub fn root(&self) -> &Element {
        &self.root
    }

    /// The root element, mutable.
    pub fn root_mut(&mut self) -> &mut Element {
        &mut self.root
    }

    /// Gives up the document, keeping its root.
    pub fn into_root(self) -> Element {
        self.root
    }

    /// The nodes before the root.
    pub fn prolog(&self) -> &[Node] {
        &self.prolog
    }

    /// The nodes before the root, mutable.
    pub fn prolog_mut(&mut self) -> &mut Vec<Node> {
        &mut self.prolog
    }

    /// The nodes after the root.
    pub fn epilog(&self) -> &[Node] {
        &self.epilog
    }

    /// The nodes after the root, mutable.
    pub fn epilog_mut(&mut self) -> &mut Vec<Node> {
        &mut self.epilog
    }

    /// Writes the document into `out`.
    pub fn write_to(&self, out: &mut String) {
        if self.bom {
            out.push('\u{feff}');
        }
        for n in &self.prolog {
            n.write(out);
        }
        self.root.write(out);
        for n in &self.epilog {
            n.write(out);
        }
    }
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

impl std::str::FromStr for Document {
    type Err = XmlError;

    fn from_str(s: &str) -> Result<Document, XmlError> {
        Document::parse(s)
    }
}
