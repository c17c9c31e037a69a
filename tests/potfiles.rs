//! Translations stay complete: `po/POTFILES` lists every file with translatable strings,
//! sorted, and `po/de.po` translates every message that xgettext extracts.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The functions whose string-literal arguments xgettext extracts from Rust files (read as
/// C); keep in sync with `src/i18n.rs` and `po/meson.build`.
const KEYWORDS: [&str; 5] = ["gettext", "ngettext", "pgettext", "gettext_f", "ngettext_f"];

/// The xgettext options of meson's `glib` preset plus the keywords of `po/meson.build`.
const XGETTEXT_ARGS: &[&str] = &[
    "--package-name=vireo",
    "--from-code=UTF-8",
    "--add-comments",
    "--keyword=_",
    "--keyword=N_",
    "--keyword=C_:1c,2",
    "--keyword=NC_:1c,2",
    "--keyword=g_dcgettext:2",
    "--keyword=g_dngettext:2,3",
    "--keyword=g_dpgettext2:2c,3",
    "--keyword=gettext_f",
    "--keyword=ngettext_f:1,2",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn potfiles() -> Vec<String> {
    let text = fs::read_to_string(root().join("po/POTFILES")).expect("read po/POTFILES");
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

fn linguas() -> Vec<String> {
    let text = fs::read_to_string(root().join("po/LINGUAS")).expect("read po/LINGUAS");
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|lang| !lang.is_empty())
        .map(str::to_owned)
        .collect()
}

fn tool(program: &str, args: &[&std::ffi::OsStr], cwd: &Path) -> Output {
    match Command::new(program).args(args).current_dir(cwd).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "`{program}` is not installed (Debian package `gettext`); run scripts/setup-deps.sh"
            )
        }
        Err(e) => panic!("cannot run `{program}`: {e}"),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every Rust source file of the GUI and of the crates.
fn all_rust_sources() -> Vec<PathBuf> {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    if let Ok(crates) = fs::read_dir(root.join("crates")) {
        for krate in crates.flatten() {
            rust_files(&krate.path().join("src"), &mut files);
        }
    }
    files.sort();
    files
}

/// A string literal passed directly to a gettext keyword.
#[derive(Debug)]
struct Marked {
    line: usize,
    literal: String,
}

/// Finds `keyword("…")` calls outside comments, the way xgettext (as C) sees them.
fn marked_strings(source: &str) -> Vec<Marked> {
    let bytes = source.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    line += usize::from(bytes[i] == b'\n');
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                // Skip a literal that is not a keyword argument.
                let (end, _) = string_literal(bytes, i);
                line += source[i..end].matches('\n').count();
                i = end;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &source[start..i];
                if KEYWORDS.contains(&word) {
                    let mut j = i;
                    while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if bytes.get(j) == Some(&b'(') {
                        j += 1;
                        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                            j += 1;
                        }
                        if bytes.get(j) == Some(&b'"') {
                            let (_, literal) = string_literal(bytes, j);
                            found.push(Marked { line, literal });
                        }
                    }
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// The end (past the closing quote) and raw text of the string literal opening at `start`.
fn string_literal(bytes: &[u8], start: usize) -> (usize, String) {
    let mut i = start + 1;
    while i < bytes.len() && bytes[i] != b'"' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    let end = (i + 1).min(bytes.len());
    let literal = String::from_utf8_lossy(&bytes[start + 1..end.saturating_sub(1).max(start + 1)]);
    (end, literal.into_owned())
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .expect("under the repository")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn potfiles_is_sorted_and_every_listed_file_exists() {
    let listed = potfiles();
    assert!(!listed.is_empty(), "po/POTFILES lists no file");
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        listed, sorted,
        "po/POTFILES must be sorted, without duplicates"
    );
    for file in &listed {
        assert!(
            root().join(file).is_file(),
            "po/POTFILES lists {file}, which does not exist"
        );
    }
}

#[test]
fn every_file_with_translatable_strings_is_listed() {
    let listed: BTreeSet<String> = potfiles().into_iter().collect();
    let mut missing = Vec::new();
    for path in all_rust_sources() {
        let source = fs::read_to_string(&path).expect("read source");
        if !marked_strings(&source).is_empty() && !listed.contains(&relative(&path)) {
            missing.push(relative(&path));
        }
    }
    // GtkBuilder files with translatable properties, and the data file templates.
    let mut others = Vec::new();
    files_with_extension(&root().join("resources"), "ui", &mut others);
    for path in others {
        let text = fs::read_to_string(&path).expect("read .ui");
        if text.contains("translatable=\"yes\"") && !listed.contains(&relative(&path)) {
            missing.push(relative(&path));
        }
    }
    for template in [
        "data/dev.vireo.Vireo.desktop.in",
        "data/dev.vireo.Vireo.metainfo.xml.in",
        "data/dev.vireo.Vireo.policy.in",
        "data/dev.vireo.Vireo.gschema.xml.in",
    ] {
        if !listed.contains(template) {
            missing.push(template.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "files with translatable strings missing from po/POTFILES: {missing:?}"
    );
}

fn files_with_extension(dir: &Path, extension: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_with_extension(&path, extension, out);
        } else if path.extension().is_some_and(|e| e == extension) {
            out.push(path);
        }
    }
}

/// xgettext reads Rust as C. Rust's `\` line continuation drops the next line's
/// indentation (C's keeps it), and C has no `\u{…}` escape: either way the extracted msgid
/// would never match the string at run time.
#[test]
fn translatable_rust_strings_read_the_same_in_c() {
    let mut bad = Vec::new();
    for path in all_rust_sources() {
        let source = fs::read_to_string(&path).expect("read source");
        for marked in marked_strings(&source) {
            let continuation = marked.literal.contains("\\\n") || marked.literal.contains("\\\r\n");
            let unicode_escape = marked.literal.contains("\\u{");
            if continuation || unicode_escape {
                bad.push(format!("{}:{}", relative(&path), marked.line));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "translatable strings with a `\\` line continuation or a `\\u{{…}}` escape (write them \
         on one line, with the characters themselves): {bad:?}"
    );
}

#[test]
fn linguas_matches_the_po_files() {
    let languages: BTreeSet<String> = linguas().into_iter().collect();
    assert!(languages.contains("de"), "po/LINGUAS lacks de");
    let po_files: BTreeSet<String> = fs::read_dir(root().join("po"))
        .expect("read po/")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".po").map(str::to_owned)
        })
        .collect();
    assert_eq!(languages, po_files, "po/LINGUAS and po/*.po differ");
}

#[test]
fn every_translation_is_complete_and_current() {
    let root = root();
    let tmp =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("potfiles-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).expect("create temp dir");
    let pot = tmp.join("vireo.pot");

    let mut args: Vec<&std::ffi::OsStr> = XGETTEXT_ARGS.iter().map(|a| a.as_ref()).collect();
    args.extend([
        "--files-from=po/POTFILES".as_ref(),
        "--output".as_ref(),
        pot.as_os_str(),
    ]);
    let output = tool("xgettext", &args, &root);
    assert!(
        output.status.success(),
        "xgettext failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(pot.is_file(), "xgettext wrote no template");

    for lang in linguas() {
        let po = root.join(format!("po/{lang}.po"));
        let merged = tmp.join(format!("{lang}.po"));
        let output = tool(
            "msgmerge",
            &[
                "--quiet".as_ref(),
                "--no-fuzzy-matching".as_ref(),
                "--output-file".as_ref(),
                merged.as_os_str(),
                po.as_os_str(),
                pot.as_os_str(),
            ],
            &root,
        );
        assert!(
            output.status.success(),
            "msgmerge failed on {}:\n{}",
            po.display(),
            String::from_utf8_lossy(&output.stderr)
        );

        let output = tool(
            "msgfmt",
            &[
                "--check".as_ref(),
                "--statistics".as_ref(),
                "--output-file=/dev/null".as_ref(),
                merged.as_os_str(),
            ],
            &root,
        );
        let stats = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            output.status.success(),
            "msgfmt --check fails for po/{lang}.po:\n{stats}"
        );
        assert!(
            !stats.contains("untranslated") && !stats.contains("fuzzy"),
            "po/{lang}.po is incomplete against the strings in the sources ({}); \
             update it with `msgmerge --update po/{lang}.po vireo.pot` and translate",
            stats.trim()
        );

        let merged_text = fs::read_to_string(&merged).expect("read merged catalogue");
        let stale: Vec<&str> = merged_text
            .lines()
            .filter(|line| line.starts_with("#~ msgid"))
            .collect();
        assert!(
            stale.is_empty(),
            "po/{lang}.po has messages the sources no longer use: {stale:?}"
        );
    }
}

#[test]
fn the_scanner_sees_what_xgettext_sees() {
    let source = r#"
        // gettext("in a comment")
        /* gettext_f("in a block comment") */
        let a = gettext("one");
        let b = gettext_f(
            "two {x}", &[("x", "y")]);
        let c = "gettext(\"not a call\")";
        let d = ngettext("three", "threes", n);
        let e = my_gettext(other);
    "#;
    let found: Vec<String> = marked_strings(source)
        .into_iter()
        .map(|m| m.literal)
        .collect();
    assert_eq!(found, ["one", "two {x}", "three"]);
}
