//! Setters touch only their own nodes: for every `<domain>` of the shared corpus, each
//! edit is applied, read back, then undone node by node on the edited tree; what is
//! left must be the input, byte for byte.

mod corpus_common;
use corpus_common::*;

use std::path::PathBuf;

use vireo_core::domain::{DiskSpec, Domain, VIREO_NS};
use vireo_core::xml::{Element, Node, Segment, split_documents};

fn corpus_domains() -> Vec<(String, String)> {
    let Some(dir) = corpus_dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for sub in ["virt-install-domains", "xmlparse"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&f).unwrap();
            let mut index = 0;
            for seg in split_documents(&text) {
                if let Segment::Xml { text: t, .. } = seg {
                    index += 1;
                    if Domain::parse(t).is_ok() {
                        out.push((format!("{name}#{index}"), t.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// Puts the input's child `name` back in place of the output's (or removes the
/// output's when the input had none).
fn revert_child(out: &mut Element, input: &Element, name: &str) {
    match input.child(name) {
        Some(orig) => {
            let slot = out
                .children_mut()
                .iter_mut()
                .find(|n| matches!(n, Node::Element(e) if e.name() == name))
                .unwrap_or_else(|| panic!("<{name}> disappeared"));
            *slot = Node::Element(Box::new(orig.clone()));
        }
        None => {
            out.remove_child(name);
        }
    }
}

fn revert_attr(out: &mut Element, input: &Element, name: &str) {
    match input.attr(name) {
        Some(v) => out.set_attr(name, &v),
        None => {
            out.remove_attr(name);
        }
    }
}

fn check(label: &str, input: &str, edit: &str, out: &Domain, problems: &mut Vec<String>) {
    let text = out.to_xml();
    if text != input {
        let diff: Vec<String> = input
            .lines()
            .zip(text.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(3)
            .map(|(i, (a, b))| format!("line {}: {a:?} -> {b:?}", i + 1))
            .collect();
        problems.push(format!("{label}: {edit} changed other nodes: {diff:?}"));
    }
}

#[test]
fn setters_touch_only_their_nodes() {
    let domains = corpus_domains();
    if domains.is_empty() {
        return;
    }
    let mut problems = Vec::new();
    let mut checks = 0;
    for (label, input) in &domains {
        let orig = Domain::parse(input).unwrap();
        let root = orig.root();

        // memory / currentMemory
        let mut d = orig.clone();
        d.set_memory_kib(3 * 1024 * 1024);
        d.set_current_memory_kib(Some(1536 * 1024));
        assert_eq!(d.memory_kib().unwrap(), Some(3 * 1024 * 1024), "{label}");
        assert_eq!(
            d.current_memory_kib().unwrap(),
            Some(1536 * 1024),
            "{label}"
        );
        assert_eq!(
            d.max_memory().unwrap(),
            orig.max_memory().unwrap(),
            "{label}: maxMemory untouched"
        );
        let reparsed = Domain::parse(&d.to_xml()).unwrap();
        assert_eq!(
            reparsed.memory_kib().unwrap(),
            Some(3 * 1024 * 1024),
            "{label}"
        );
        revert_child(d.root_mut(), root, "memory");
        revert_child(d.root_mut(), root, "currentMemory");
        check(label, input, "set_memory", &d, &mut problems);

        // vcpu
        let mut d = orig.clone();
        d.set_vcpus(7);
        assert_eq!(d.vcpu().unwrap().map(|v| v.count), Some(7), "{label}");
        revert_child(d.root_mut(), root, "vcpu");
        check(label, input, "set_vcpus", &d, &mut problems);

        // name
        let mut d = orig.clone();
        d.set_name("renamed <&> vm");
        assert_eq!(d.name().as_deref(), Some("renamed <&> vm"), "{label}");
        revert_child(d.root_mut(), root, "name");
        check(label, input, "set_name", &d, &mut problems);

        // firmware (on an existing <os> only)
        if orig.os().is_some() {
            let mut d = orig.clone();
            d.os_mut().set_firmware(Some("efi"));
            assert_eq!(d.os().unwrap().firmware().as_deref(), Some("efi"));
            let os_in = root.child("os").unwrap();
            revert_attr(d.root_mut().child_mut("os").unwrap(), os_in, "firmware");
            check(label, input, "set_firmware", &d, &mut problems);
        }

        // disk add
        let mut d = orig.clone();
        let before = d.devices().disks().count();
        d.devices_mut().add_disk(&DiskSpec::file(
            "/var/lib/libvirt/images/extra.qcow2",
            "qcow2",
            "vdz",
            "virtio",
        ));
        let disks: Vec<_> = d.devices().disks().collect();
        assert_eq!(disks.len(), before + 1, "{label}");
        assert_eq!(
            disks[before].target_dev().as_deref(),
            Some("vdz"),
            "{label}: added last"
        );
        match root.child("devices") {
            Some(dev_in) if dev_in.elements().next().is_some() => {
                let removed = d.devices_mut().retain("disk", |e| {
                    e.child("target").and_then(|t| t.attr("dev")).as_deref() != Some("vdz")
                });
                assert_eq!(removed, 1);
            }
            _ => revert_child(d.root_mut(), root, "devices"),
        }
        check(label, input, "add_disk", &d, &mut problems);

        // Vireo metadata (foreign metadata untouched)
        let mut d = orig.clone();
        d.set_vireo_value("os-id", Some("http://fedoraproject.org/fedora/39"));
        assert_eq!(
            d.vireo_value("os-id").as_deref(),
            Some("http://fedoraproject.org/fedora/39")
        );
        assert_eq!(d.vireo_metadata().unwrap().namespace(), Some(VIREO_NS));
        let reparsed = Domain::parse(&d.to_xml()).unwrap();
        assert_eq!(
            reparsed.vireo_value("os-id").as_deref(),
            Some("http://fedoraproject.org/fedora/39"),
            "{label}: namespace resolved after a round trip"
        );
        d.remove_vireo_metadata();
        check(label, input, "vireo metadata", &d, &mut problems);

        checks += 6;
    }
    println!(
        "{} domains, {checks} edits checked node by node",
        domains.len()
    );
    assert!(problems.is_empty(), "{problems:#?}");
}
