//! vireoctl as a user runs it: the real binary, its exit codes and its output, on libvirt's
//! built-in test driver (no daemon) and on the real libvirtd started by the test setup.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn vireoctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vireoctl"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run vireoctl: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn list_json_is_versioned() {
    let out = vireoctl(&["--connect", "test:///default", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["version"], 1);
    let domains = json["domains"].as_array().expect("domains array");
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0]["name"], "test");
    assert_eq!(domains[0]["state"], "running");
    assert_eq!(domains[0]["vcpus"], 2);
}

#[test]
fn exit_codes_follow_the_convention() {
    let usage = vireoctl(&["frobnicate"]);
    assert_eq!(usage.status.code(), Some(2), "bad usage exits 2");

    let missing = vireoctl(&["--connect", "test:///default", "start", "no-such-vm"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no-such-vm"));

    let running = vireoctl(&["--connect", "test:///default", "undefine", "test"]);
    assert_eq!(
        running.status.code(),
        Some(3),
        "undefining a running VM is refused"
    );
    assert!(text(&running.stderr).contains("running"));

    let unreachable = vireoctl(&[
        "--connect",
        "qemu+unix:///system?socket=/nonexistent",
        "list",
    ]);
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(!text(&unreachable.stderr).is_empty());
}

#[test]
fn lifecycle_commands_on_the_test_driver() {
    // Each process gets a fresh test:///default, so every command starts from "running".
    for (cmd, word) in [
        ("destroy", "Forced"),
        ("suspend", "Paused"),
        ("reboot", "reboot"),
        ("shutdown", "shut down"),
    ] {
        let out = vireoctl(&["--connect", "test:///default", cmd, "test"]);
        assert!(out.status.success(), "{cmd}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(word),
            "{cmd}: {}",
            text(&out.stdout)
        );
    }
    let by_uuid = vireoctl(&[
        "--connect",
        "test:///default",
        "dumpxml",
        "6695eb01-f6a4-8304-79aa-97f2502e193f",
    ]);
    assert!(by_uuid.status.success(), "{}", text(&by_uuid.stderr));
    assert!(text(&by_uuid.stdout).contains("<name>test</name>"));
}

#[test]
fn xml_roundtrip_keeps_the_document() {
    let file = repo_root().join("tests/data/cli/roundtrip.xml");
    let out = vireoctl(&["xml", "roundtrip", file.to_str().expect("utf-8 path")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let input = std::fs::read(&file).expect("fixture");
    assert_eq!(text(&out.stdout), text(&input), "byte for byte");
}

#[test]
fn xml_roundtrip_over_the_corpus() {
    let corpus = repo_root().join("../shared/corpus/xmlparse");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        println!("SKIPPED: corpus not found at {}", corpus.display());
        return;
    };
    let mut checked = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let input = std::fs::read_to_string(&path).expect("readable corpus file");
        if !input.trim_start().starts_with("<domain") {
            continue;
        }
        let out = vireoctl(&["xml", "roundtrip", path.to_str().expect("utf-8 path")]);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), input, "{}", path.display());
        checked += 1;
    }
    assert!(checked > 10, "only {checked} domain files checked");
}

#[test]
fn xml_roundtrip_reports_where_xml_is_broken() {
    let dir = std::env::temp_dir().join(format!("vireoctl-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("broken.xml");
    std::fs::write(
        &file,
        "<domain>\n  <name>x</name>\n  <memory>1</mem>\n</domain>\n",
    )
    .expect("write");
    let out = vireoctl(&["xml", "roundtrip", file.to_str().expect("utf-8 path")]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("line 3"), "error names the line: {err}");
}

// ---- real libvirtd ----

const SYSTEM: &str = "qemu:///system";

fn require_daemon() {
    let ok = Command::new("virsh")
        .args(["-c", SYSTEM, "version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "libvirtd does not answer at {SYSTEM}: run `tests/support/libvirtd.sh start` \
         (or scripts/test.sh, which does it)"
    );
}

/// Removes the test domain however the test ends.
struct DomainGuard(String);

impl Drop for DomainGuard {
    fn drop(&mut self) {
        for args in [
            vec!["destroy", self.0.as_str()],
            vec!["undefine", self.0.as_str(), "--managed-save", "--nvram"],
        ] {
            let _ = Command::new("virsh")
                .args(["-c", SYSTEM])
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watcher {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vireoctl"))
            .args(["--connect", SYSTEM, "watch", "--json"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("vireoctl watch");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watcher { child, lines }
    }

    /// Waits for a lifecycle event of `kind` for `name`.
    fn expect(&self, name: &str, kind: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            let json: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
            assert_eq!(json["version"], 1);
            let event = &json["event"];
            if event["event"] == "lifecycle"
                && event["data"]["name"] == name
                && event["data"]["kind"] == kind
            {
                return;
            }
        }
        panic!("no {kind} event for {name} within {within:?}");
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn domain_json(name: &str) -> serde_json::Value {
    let out = vireoctl(&["--connect", SYSTEM, "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    json["domains"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == name).cloned())
        .unwrap_or(serde_json::Value::Null)
}

#[test]
fn manages_a_real_guest_on_libvirtd() {
    require_daemon();
    let name = "vireo-test-cli";
    let dir = repo_root().join("target/test-domains");
    let made = Command::new(repo_root().join("tests/guest/make-domain.sh"))
        .args([name, dir.to_str().expect("utf-8 path")])
        .output()
        .expect("make-domain.sh");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let xml = text(&made.stdout).trim().to_string();
    let _guard = DomainGuard(name.to_string());
    let defined = Command::new("virsh")
        .args(["-c", SYSTEM, "define", &xml])
        .output()
        .expect("virsh define");
    assert!(defined.status.success(), "{}", text(&defined.stderr));

    let watcher = Watcher::start();
    // Give `watch` time to register for events before anything happens.
    std::thread::sleep(Duration::from_millis(1500));

    let out = vireoctl(&["--connect", SYSTEM, "start", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    watcher.expect(name, "started", Duration::from_secs(20));
    assert_eq!(domain_json(name)["state"], "running");

    let out = vireoctl(&["--connect", SYSTEM, "undefine", name]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "running VM must not be undefined"
    );

    let out = vireoctl(&["--connect", SYSTEM, "save", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    watcher.expect(name, "stopped", Duration::from_secs(60));
    assert_eq!(domain_json(name)["has_managed_save"], true);

    let out = vireoctl(&["--connect", SYSTEM, "start", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Restored"));
    watcher.expect(name, "started", Duration::from_secs(60));

    // The guest needs to have booted to react to the ACPI power button.
    let log = dir.join(format!("{name}.serial.log"));
    let deadline = Instant::now() + Duration::from_secs(90);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("VIREO-GUEST: booted")
    {
        assert!(
            Instant::now() < deadline,
            "guest did not boot: {}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let out = vireoctl(&["--connect", SYSTEM, "shutdown", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    watcher.expect(name, "stopped", Duration::from_secs(60));
    assert_eq!(domain_json(name)["state"], "shut-off");

    let out = vireoctl(&["--connect", SYSTEM, "undefine", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    watcher.expect(name, "undefined", Duration::from_secs(20));
    assert!(domain_json(name).is_null());
}
