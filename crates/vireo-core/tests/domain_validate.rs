//! libvirt's own validator (`virt-xml-validate`) on every document of the shared
//! corpus: the input, the document written back by the lossless tree, and domains
//! after typical edits. Inputs the schema rejects are listed, with the reason, in
//! `tests/data/xml/validator-rejects.txt` at the repository root.

mod corpus_common;
use corpus_common::*;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use vireo_core::domain::{DiskSpec, Domain};
use vireo_core::xml::{Document, Segment, split_documents};

/// (file name, 1-based document index) → reason.
fn listed_rejects() -> BTreeMap<(String, usize), String> {
    let path = repo_root().join("tests/data/xml/validator-rejects.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let file = parts.next().unwrap().to_string();
            let index: usize = parts.next().unwrap().parse().unwrap();
            let reason = parts.next().unwrap_or("").to_string();
            assert!(!reason.is_empty(), "no reason given for {file} {index}");
            ((file, index), reason)
        })
        .collect()
}

struct Validator {
    dir: PathBuf,
    counter: AtomicUsize,
}

impl Validator {
    fn new() -> Validator {
        let dir = std::env::temp_dir().join(format!("vireo-validate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Validator {
            dir,
            counter: AtomicUsize::new(0),
        }
    }

    /// True when libvirt's schema accepts the document.
    fn accepts(&self, text: &str) -> bool {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("doc{n}.xml"));
        std::fs::write(&path, text).unwrap();
        let status = Command::new("virt-xml-validate")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let _ = std::fs::remove_file(&path);
        status.success()
    }
}

impl Drop for Validator {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Case {
    file: String,
    index: usize,
    input: String,
    output: String,
    /// Domains only: the document after all edits at once.
    edited: Option<String>,
    /// Domains only: (edit name, document after that edit alone).
    edits: Vec<(&'static str, String)>,
}

type Edit = (&'static str, fn(&mut Domain));

fn edits() -> Vec<Edit> {
    vec![
        ("set_memory", |d| {
            d.set_memory_kib(3 * 1024 * 1024);
            d.set_current_memory_kib(Some(2 * 1024 * 1024));
        }),
        ("set_vcpus", |d| d.set_vcpus(3)),
        ("set_name", |d| d.set_name("vireo-renamed")),
        ("set_firmware", |d| {
            // automatic firmware selection: hvm guests without a manual loader
            let hvm = d
                .os()
                .is_some_and(|o| o.os_type().as_deref() == Some("hvm"));
            if hvm && d.os().is_some_and(|o| o.loader().is_none()) {
                d.os_mut().set_firmware(Some("efi"));
            }
        }),
        ("add_disk", |d| {
            d.devices_mut().add_disk(&DiskSpec::file(
                "/var/lib/libvirt/images/vireo-extra.qcow2",
                "qcow2",
                "vdz",
                "virtio",
            ));
        }),
        ("vireo_metadata", |d| {
            d.set_vireo_value("created-by", Some("vireo"))
        }),
    ]
}

fn edited_variants(input: &str) -> (Option<String>, Vec<(&'static str, String)>) {
    let Ok(domain) = Domain::parse(input) else {
        return (None, Vec::new());
    };
    let mut all = domain.clone();
    let mut single = Vec::new();
    for (name, f) in edits() {
        f(&mut all);
        let mut d = domain.clone();
        f(&mut d);
        single.push((name, d.to_xml()));
    }
    (Some(all.to_xml()), single)
}

#[test]
fn validator_verdicts_match() {
    let Some(dir) = corpus_dir() else { return };
    let have = Command::new("virt-xml-validate")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    // scripts/setup-deps.sh installs the validator: its absence is a broken setup.
    assert!(
        have,
        "virt-xml-validate not found: install libvirt-clients (scripts/setup-deps.sh does)"
    );
    let listed = listed_rejects();
    let mut cases = Vec::new();
    let mut files = xml_files(&dir.join("virt-install-domains"));
    files.extend(xml_files(&dir.join("xmlparse")));
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).unwrap();
        let mut index = 0;
        for seg in split_documents(&text) {
            if let Segment::Xml { text: t, .. } = seg {
                index += 1;
                let doc = Document::parse(t).unwrap_or_else(|e| panic!("{name} {index}: {e}"));
                let (edited, edits) = edited_variants(t);
                cases.push(Case {
                    file: name.clone(),
                    index,
                    input: t.to_string(),
                    output: doc.to_string(),
                    edited,
                    edits,
                });
            }
        }
    }

    let validator = Validator::new();
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get().min(8));
    let chunk = cases.len().div_ceil(threads);
    // (file, index, input accepted, output accepted, rejected edits)
    let results: Vec<(String, usize, bool, bool, Vec<&'static str>)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .chunks(chunk)
            .map(|part| {
                let validator = &validator;
                s.spawn(move || {
                    part.iter()
                        .map(|c| {
                            let input_ok = validator.accepts(&c.input);
                            // a byte-identical output has the input's verdict
                            let output_ok = if c.output == c.input {
                                input_ok
                            } else {
                                validator.accepts(&c.output)
                            };
                            let edited_ok = match &c.edited {
                                Some(text) if input_ok => validator.accepts(text),
                                _ => true,
                            };
                            // on failure, find the edits that break it
                            let rejected_edits = if edited_ok {
                                Vec::new()
                            } else {
                                let mut bad: Vec<&'static str> = c
                                    .edits
                                    .iter()
                                    .filter(|(_, text)| !validator.accepts(text))
                                    .map(|(name, _)| *name)
                                    .collect();
                                if bad.is_empty() {
                                    bad.push("all edits together");
                                }
                                bad
                            };
                            (c.file.clone(), c.index, input_ok, output_ok, rejected_edits)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });

    let mut problems = Vec::new();
    let mut rejected = 0;
    let mut edits_checked = 0;
    for (file, index, input_ok, output_ok, rejected_edits) in &results {
        let key = (file.clone(), *index);
        if !input_ok {
            rejected += 1;
        }
        match (input_ok, listed.contains_key(&key)) {
            (false, false) => problems.push(format!(
                "{file} {index}: rejected by virt-xml-validate but not listed in validator-rejects.txt"
            )),
            (true, true) => problems.push(format!(
                "{file} {index}: listed in validator-rejects.txt but accepted by virt-xml-validate"
            )),
            _ => {}
        }
        if input_ok != output_ok {
            problems.push(format!(
                "{file} {index}: input {} but output {}",
                verdict(*input_ok),
                verdict(*output_ok)
            ));
        }
        if *input_ok
            && cases
                .iter()
                .any(|c| c.file == *file && c.index == *index && c.edited.is_some())
        {
            edits_checked += 1;
        }
        for edit in rejected_edits {
            problems.push(format!("{file} {index}: rejected after {edit}"));
        }
    }
    for (file, index) in listed.keys() {
        if !results.iter().any(|(f, i, ..)| f == file && i == index) {
            problems.push(format!(
                "{file} {index}: listed in validator-rejects.txt but not in the corpus"
            ));
        }
    }
    println!(
        "{} documents validated: {} accepted, {} rejected by libvirt's schema (all listed); \
         outputs get the same verdict; {} domains accepted after {} edits",
        results.len(),
        results.len() - rejected,
        rejected,
        edits_checked,
        edits().len()
    );
    assert!(problems.is_empty(), "{problems:#?}");
}

fn verdict(ok: bool) -> &'static str {
    if ok { "accepted" } else { "rejected" }
}
