//! Round trip of every document of the shared libvirt corpus through the lossless tree,
//! with `xmllint --c14n` (canonical XML 1.0 with comments) as the oracle.

mod corpus_common;
use corpus_common::*;

use std::io::Write;
use std::process::{Command, Stdio};

use vireo_core::xml::{Document, Segment, split_documents};

fn have_xmllint() -> bool {
    Command::new("xmllint")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Canonical XML (C14N 1.0 with comments) of a document, by libxml2.
fn c14n(text: &str) -> Result<String, String> {
    let mut child = Command::new("xmllint")
        .args(["--c14n", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let input = text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    writer
        .join()
        .map_err(|_| "writer panicked".to_string())?
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

struct Doc {
    label: String,
    input: String,
    output: String,
}

#[test]
fn corpus_round_trip() {
    let Some(dir) = corpus_dir() else { return };
    let mut files = xml_files(&dir.join("virt-install-domains"));
    files.extend(xml_files(&dir.join("xmlparse")));
    assert!(!files.is_empty(), "no corpus files in {}", dir.display());

    let mut docs = Vec::new();
    let mut domains = 0;
    let mut identical_files = 0;
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(file).unwrap();
        let mut index = 0;
        let mut rewritten = String::with_capacity(text.len());
        for seg in split_documents(&text) {
            match seg {
                Segment::Other { text: t, .. } => {
                    if !seg.is_blank() {
                        println!("skipping {} bytes of non-XML text in {name}", t.len());
                    }
                    rewritten.push_str(t);
                }
                Segment::Xml { text: t, .. } => {
                    index += 1;
                    let doc = Document::parse(t)
                        .unwrap_or_else(|e| panic!("{name} document {index}: {e}"));
                    if doc.root().name() == "domain" {
                        domains += 1;
                    }
                    let output = doc.to_string();
                    rewritten.push_str(&output);
                    docs.push(Doc {
                        label: format!("{name}#{index}"),
                        input: t.to_string(),
                        output,
                    });
                }
            }
        }
        if rewritten == text {
            identical_files += 1;
        }
    }
    let identical = docs.iter().filter(|d| d.input == d.output).count();
    println!(
        "{} files ({identical_files} byte-identical), {} documents ({} domains), \
         {} byte-identical after parse and write",
        files.len(),
        docs.len(),
        domains,
        identical
    );
    for d in docs.iter().filter(|d| d.input != d.output) {
        println!("not byte-identical: {}", d.label);
    }
    assert!(
        docs.len() >= 200,
        "expected the whole corpus, found {} documents",
        docs.len()
    );
    assert_eq!(
        identical_files,
        files.len(),
        "every file is rebuilt byte for byte"
    );
    assert_eq!(
        identical,
        docs.len(),
        "every unmodified document is written back byte for byte"
    );

    // scripts/setup-deps.sh installs xmllint: its absence is a broken setup.
    assert!(
        have_xmllint(),
        "xmllint not found: install libxml2-utils (scripts/setup-deps.sh does)"
    );
    let threads = 4;
    let chunk = docs.len().div_ceil(threads);
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> =
            docs.chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        let mut bad = Vec::new();
                        for d in part {
                            match (c14n(&d.input), c14n(&d.output)) {
                                (Ok(a), Ok(b)) if a == b => {}
                                (Ok(_), Ok(_)) => {
                                    bad.push(format!("{}: canonical forms differ", d.label))
                                }
                                (Err(e), _) => {
                                    bad.push(format!("{}: xmllint rejects the input: {e}", d.label))
                                }
                                (_, Err(e)) => bad
                                    .push(format!("{}: xmllint rejects the output: {e}", d.label)),
                            }
                        }
                        bad
                    })
                })
                .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    println!(
        "{} documents canonically equal (xmllint --c14n)",
        docs.len() - failures.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
