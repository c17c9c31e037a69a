//! Edge cases of the lossless XML tree.

use vireo_core::xml::{Document, Element, Node, XmlError};

const QEMU_NS: &str = "http://libvirt.org/schemas/domain/qemu/1.0";

fn same(input: &str) {
    let doc = Document::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(doc.to_string(), input);
}

fn error_at(input: &str) -> (usize, usize, String) {
    match Document::parse(input) {
        Err(XmlError::Malformed {
            line,
            column,
            message,
        }) => (line, column, message),
        other => panic!("{input:?}: expected a malformed-XML error, got {other:?}"),
    }
}

#[test]
fn prolog_and_epilog_survive() {
    same(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- made by hand -->\n\n<domain type='kvm'>\n  <name>a</name>\n</domain>\n<!-- trailer -->\n",
    );
    same("<!DOCTYPE domain>\n<domain/>");
    same("<!DOCTYPE a [\n  <!ENTITY who \"world\">\n]>\n<a>hello &who;</a>\n");
    same("<?xml-stylesheet href=\"x.xsl\"?><a><?pi data?></a>");
    same("\u{feff}<a>bom</a>");
    same("<a>\r\n  <b/>\r\n</a>\r\n");
    let doc = Document::parse("<?xml version='1.0'?>\n<!--c--><a/>").unwrap();
    assert!(matches!(doc.prolog()[0], Node::Declaration(_)));
    assert!(matches!(doc.prolog()[2], Node::Comment(ref c) if c == "c"));
}

#[test]
fn formatting_inside_tags_survives() {
    same("<a x='1' y=\"2\"  z = '3'\n   w='4' ></a >");
    same("<a><b/><c /><d></d><e\n/></a>");
    same("<a>\t<b>text</b>  tail </a>");
    let doc = Document::parse("<a><b/><c></c></a>").unwrap();
    assert!(doc.root().child("b").unwrap().is_self_closing());
    assert!(!doc.root().child("c").unwrap().is_self_closing());
}

#[test]
fn entities_and_cdata() {
    let input = "<a t=\"x &amp; y &quot;q&quot; &#10;z\">1 &lt; 2 &amp;&amp; 3&#10;&#x41;<![CDATA[<raw> & ]]></a>";
    same(input);
    let doc = Document::parse(input).unwrap();
    let a = doc.root();
    assert_eq!(a.attr("t").as_deref(), Some("x & y \"q\" \nz"));
    assert_eq!(a.text(), "1 < 2 && 3\nA<raw> & ");
    assert!(
        a.children()
            .iter()
            .any(|n| matches!(n, Node::CData(c) if c == "<raw> & "))
    );
    // raw form kept until changed
    assert_eq!(
        a.attributes()[0].raw_value(),
        "x &amp; y &quot;q&quot; &#10;z"
    );
}

#[test]
fn single_quotes_are_kept_and_reused() {
    let mut doc = Document::parse("<domain type='kvm'>\n  <name>a</name>\n</domain>").unwrap();
    let root = doc.root_mut();
    root.set_attr("type", "qemu");
    root.set_attr("id", "it's");
    root.ensure_child("os").set_attr("firmware", "efi");
    assert_eq!(
        doc.to_string(),
        "<domain type='qemu' id='it&apos;s'>\n  <name>a</name>\n  <os firmware='efi'/>\n</domain>"
    );
}

#[test]
fn namespaces_resolve_by_uri() {
    let input = "<domain type='kvm' xmlns:q='http://libvirt.org/schemas/domain/qemu/1.0'>\n  <name>a</name>\n  <q:commandline>\n    <q:arg value='-S'/>\n  </q:commandline>\n</domain>\n";
    let mut doc = Document::parse(input).unwrap();
    let cl = doc.root().child_ns(QEMU_NS, "commandline").unwrap();
    assert_eq!(cl.name(), "q:commandline");
    assert_eq!(cl.prefix(), Some("q"));
    assert_eq!(cl.local_name(), "commandline");
    assert_eq!(
        cl.child_ns(QEMU_NS, "arg")
            .unwrap()
            .attr("value")
            .as_deref(),
        Some("-S")
    );
    assert!(
        doc.root()
            .child_ns("http://other/", "commandline")
            .is_none()
    );
    // a new child takes the parent's prefix binding
    let arg = doc
        .root_mut()
        .child_ns_mut(QEMU_NS, "commandline")
        .unwrap()
        .append_child(Element::new("q:arg").with_attr("value", "-no-reboot"));
    assert_eq!(arg.namespace(), Some(QEMU_NS));
    assert_eq!(
        doc.to_string(),
        input.replace("'-S'/>\n", "'-S'/>\n    <q:arg value='-no-reboot'/>\n")
    );
    // default namespaces and shadowing
    let doc = Document::parse("<a xmlns='urn:x'><b xmlns='urn:y'><c/></b><d/></a>").unwrap();
    let a = doc.root();
    assert_eq!(a.namespace(), Some("urn:x"));
    assert_eq!(a.find("b/c").unwrap().namespace(), Some("urn:y"));
    assert_eq!(a.child("d").unwrap().namespace(), Some("urn:x"));
}

#[test]
fn foreign_metadata_untouched() {
    let input = "<domain>\n  <metadata>\n    <app1:foo xmlns:app1=\"http://foo.org/\">fooish</app1:foo>\n    <nova:instance xmlns:nova=\"http://openstack.org/xmlns/libvirt/nova/1.0\"><nova:name>vm1</nova:name></nova:instance>\n  </metadata>\n</domain>";
    let mut doc = Document::parse(input).unwrap();
    let md = doc.root_mut().child_mut("metadata").unwrap();
    let mut v =
        Element::new("vireo:vireo").with_attr("xmlns:vireo", "https://vireo.dev/xmlns/vireo/1.0");
    v.ensure_child("vireo:os").set_text("win11");
    md.append_child(v);
    let out = doc.to_string();
    assert!(out.starts_with(&input[..input.find("  </metadata>").unwrap()]));
    assert!(out.contains(
        "    <vireo:vireo xmlns:vireo=\"https://vireo.dev/xmlns/vireo/1.0\">\n      <vireo:os>win11</vireo:os>\n    </vireo:vireo>\n  </metadata>"
    ));
    let md = doc.root().child("metadata").unwrap();
    assert_eq!(
        md.child_ns("https://vireo.dev/xmlns/vireo/1.0", "vireo")
            .unwrap()
            .find("vireo:os")
            .unwrap()
            .namespace(),
        Some("https://vireo.dev/xmlns/vireo/1.0")
    );
}

#[test]
fn indentation_is_inferred() {
    // four spaces
    let mut doc =
        Document::parse("<a>\n    <b>\n        <c/>\n    </b>\n    <d/>\n</a>\n").unwrap();
    doc.root_mut()
        .child_mut("d")
        .unwrap()
        .ensure_child("e")
        .set_attr("x", "1");
    doc.root_mut()
        .find_mut("b")
        .unwrap()
        .append_child(Element::new("c2"));
    assert_eq!(
        doc.to_string(),
        "<a>\n    <b>\n        <c/>\n        <c2/>\n    </b>\n    <d>\n        <e x=\"1\"/>\n    </d>\n</a>\n"
    );
    // tabs
    let mut doc = Document::parse("<a>\n\t<b/>\n</a>").unwrap();
    doc.root_mut().child_mut("b").unwrap().ensure_child("c");
    assert_eq!(doc.to_string(), "<a>\n\t<b>\n\t\t<c/>\n\t</b>\n</a>");
    // compact documents stay compact
    let mut doc = Document::parse("<a><b/></a>").unwrap();
    doc.root_mut().append_child(Element::new("c"));
    assert_eq!(doc.to_string(), "<a><b/><c/></a>");
    // whitespace-only content is replaced by a proper layout
    let mut doc = Document::parse("<a>\n  <devices>\n  </devices>\n</a>").unwrap();
    doc.root_mut()
        .child_mut("devices")
        .unwrap()
        .append_child(Element::new("disk"));
    assert_eq!(
        doc.to_string(),
        "<a>\n  <devices>\n    <disk/>\n  </devices>\n</a>"
    );
}

#[test]
fn ordered_insertion_and_removal() {
    let input = "<os>\n  <type>hvm</type>\n  <boot dev=\"hd\"/>\n</os>";
    let order = ["type", "loader", "nvram", "boot", "bootmenu"];
    let mut doc = Document::parse(input).unwrap();
    doc.root_mut()
        .ensure_child_ordered("bootmenu", &order)
        .set_attr("enable", "yes");
    doc.root_mut()
        .ensure_child_ordered("loader", &order)
        .set_text("/x.fd");
    doc.root_mut()
        .insert_child_ordered(Element::new("boot").with_attr("dev", "cdrom"), &order);
    assert_eq!(
        doc.to_string(),
        "<os>\n  <type>hvm</type>\n  <loader>/x.fd</loader>\n  <boot dev=\"hd\"/>\n  <boot dev=\"cdrom\"/>\n  <bootmenu enable=\"yes\"/>\n</os>"
    );
    assert_eq!(doc.root().find_all("boot").len(), 2);
    doc.root_mut().remove_child("loader");
    doc.root_mut().remove_children("boot");
    doc.root_mut().remove_child("bootmenu");
    doc.root_mut()
        .insert_child(1, Element::new("boot").with_attr("dev", "hd"));
    assert_eq!(doc.to_string(), input);
    // removing the last child gives an empty element
    doc.root_mut().remove_children("boot");
    doc.root_mut().remove_child("type");
    assert_eq!(doc.to_string(), "<os/>");
    // a new first child before an existing one
    let mut doc = Document::parse("<a>\n  <c/>\n</a>").unwrap();
    doc.root_mut().insert_child(0, Element::new("b"));
    assert_eq!(doc.to_string(), "<a>\n  <b/>\n  <c/>\n</a>");
}

#[test]
fn text_edits() {
    let mut doc = Document::parse("<a>\n  <b>old</b>\n  <c/>\n</a>").unwrap();
    doc.root_mut().child_mut("b").unwrap().set_text("x < y & z");
    doc.root_mut().child_mut("c").unwrap().set_text("new");
    assert_eq!(
        doc.to_string(),
        "<a>\n  <b>x &lt; y &amp; z</b>\n  <c>new</c>\n</a>"
    );
    assert_eq!(doc.root().child_text("b").as_deref(), Some("x < y & z"));
    // setting the same text keeps the raw form
    let mut doc = Document::parse("<a>&#65;</a>").unwrap();
    doc.root_mut().set_text("A");
    assert_eq!(doc.to_string(), "<a>&#65;</a>");
}

#[test]
fn malformed_inputs_report_positions() {
    let (line, column, _) = error_at("<a>\n  <b>\n</a>");
    assert_eq!((line, column), (3, 1));
    let (line, _, msg) = error_at("<domain>\n  <name>x</name>\n");
    assert_eq!(line, 3);
    assert!(msg.contains("<domain>") && msg.contains("line 1"), "{msg}");
    let (line, column, msg) = error_at("<a>\n  <b x=\"1\" x=\"2\"/>\n</a>");
    assert_eq!((line, column), (2, 12), "{msg}");
    assert!(msg.contains("duplicate"));
    let (line, column, _) = error_at("<a>\n <b x=1/></a>");
    assert_eq!((line, column), (2, 5));
    let (_, _, msg) = error_at("<a>&nbsp;</a>");
    assert!(msg.contains("nbsp"), "{msg}");
    for bad in [
        "",
        "   ",
        "just text",
        "<a>",
        "<a></b>",
        "</a>",
        "<a/><b/>",
        "<a/>text",
        "text<a/>",
        "<a b='<'/>",
        "<a b='&'/>",
        "<a b='x' c/>",
        "<a b='x'c='y'/>",
        "<a b=\"x/>",
        "<a><!-- -- --></a>",
        "<a>&#0;</a>",
        "<a>&#xD800;</a>",
        "<a>& b</a>",
        "<1a/>",
        "<a><![CDATA[x</a>",
        "<a><?xml version='1.0'?></a>",
        "<a/>\n<?xml version='1.0'?>",
        "<a/><!DOCTYPE a>",
        "<a:b:c/>",
        "<a",
        "<",
        "<a b='1'",
        "<?xml version='1.0'?>",
        "<!-- only a comment -->",
    ] {
        assert!(Document::parse(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn truncated_documents_fail_cleanly() {
    let input = "<?xml version=\"1.0\"?>\n<!-- c -->\n<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n  <name>a &amp; b</name>\n  <description><![CDATA[x]]></description>\n  <devices>\n    <disk type=\"file\"><source file='/x'/></disk>\n  </devices>\n  <qemu:commandline><qemu:arg value='-S'/></qemu:commandline>\n</domain>\n";
    let end = input.find("</domain>").unwrap() + "</domain>".len();
    for cut in 0..input.len() {
        if !input.is_char_boundary(cut) {
            continue;
        }
        let result = Document::parse(&input[..cut]);
        if cut < end {
            assert!(result.is_err(), "prefix of {cut} bytes accepted");
        } else {
            assert_eq!(result.unwrap().to_string(), &input[..cut]);
        }
    }
}

#[test]
fn deep_nesting() {
    let depth = 1000;
    let input = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    same(&input);
    let too_deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let (line, _, msg) = error_at(&too_deep);
    assert_eq!(line, 1);
    assert!(msg.contains("deeper"), "{msg}");
    let unclosed = "<a>".repeat(100_000);
    assert!(Document::parse(&unclosed).is_err());
}

#[test]
fn unicode_positions() {
    let (line, column, _) = error_at("<a>\n  <é>ü</é>\n  <b></c>\n</a>");
    assert_eq!((line, column), (3, 6));
    same("<a title='héllo wörld ✓'>日本語</a>");
}

#[test]
fn parse_speed_figure() {
    // Not a timed assertion: prints a figure for a typical 5 KB domain.
    let mut xml = String::from("<domain type='kvm'>\n  <name>speed</name>\n  <devices>\n");
    while xml.len() < 5000 {
        xml.push_str("    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source file='/var/lib/libvirt/images/x.qcow2'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n");
    }
    xml.push_str("  </devices>\n</domain>\n");
    let runs = 200;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let doc = Document::parse(&xml).unwrap();
        assert_eq!(doc.root().name(), "domain");
    }
    let per = start.elapsed() / runs;
    println!(
        "parsed a {} byte domain in {per:?} per document (this build profile)",
        xml.len()
    );
}
