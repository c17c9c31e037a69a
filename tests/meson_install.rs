//! The distribution build: `meson setup`, `meson compile` (which drives cargo) and
//! `meson install --destdir` into a temporary directory, then the installed tree is checked.
//!
//! To keep this affordable on small machines, meson's cargo reuses this workspace's target
//! directory (`-Dcargo_target_dir`), so only the three binaries are compiled again. That
//! build bakes the installed paths into `target/debug/vireo`; a guard puts the cargo-only
//! binary back afterwards, so later tests run the binary they expect.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const PREFIX: &str = "/usr";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cargo target directory this test was built in (`CARGO_TARGET_TMPDIR` is its `tmp/`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory")
        .to_path_buf()
}

/// The variables build.rs reads: meson sets them itself, stray ones must not leak in.
const VIREO_BUILD_VARS: [&str; 6] = [
    "VIREO_PROFILE",
    "VIREO_VERSION",
    "VIREO_LOCALEDIR",
    "VIREO_LIBEXECDIR",
    "VIREO_PKGDATADIR",
    "VIREO_SCHEMADIR",
];

fn step(what: &str, command: &mut Command) {
    let started = Instant::now();
    for var in VIREO_BUILD_VARS {
        command.env_remove(var);
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{what}: {:?} is not installed; run scripts/setup-deps.sh (meson, ninja-build)",
            command.get_program()
        ),
        Err(e) => panic!("{what}: cannot run {:?}: {e}", command.get_program()),
    };
    eprintln!("{what}: {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Puts the cargo-only `vireo` binary back when dropped, also after a failure. meson's
/// build replaces `target/debug/vireo` with one that has the installed paths baked in;
/// the tests that run after this one expect the binary cargo built for them.
struct RestoreBinary {
    binary: PathBuf,
    backup: PathBuf,
}

impl RestoreBinary {
    fn save(binary: PathBuf, backup: PathBuf) -> Option<Self> {
        fs::copy(&binary, &backup).ok()?;
        Some(Self { binary, backup })
    }
}

impl Drop for RestoreBinary {
    fn drop(&mut self) {
        // Remove first: the binary may be a hard link into target/debug/deps.
        let _ = fs::remove_file(&self.binary);
        if let Err(e) = fs::copy(&self.backup, &self.binary) {
            eprintln!(
                "could not restore {} ({e}); run `cargo build -p vireo`",
                self.binary.display()
            );
        }
    }
}

fn assert_file(dest: &Path, path: &str) -> PathBuf {
    let full = dest.join(path.trim_start_matches('/'));
    assert!(full.is_file(), "{path} is not installed");
    full
}

fn assert_executable(dest: &Path, path: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let full = assert_file(dest, path);
    let mode = fs::metadata(&full).expect("metadata").permissions().mode();
    assert!(mode & 0o111 != 0, "{path} is not executable");
    full
}

#[test]
fn meson_builds_and_installs_everything() {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("meson-install");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).expect("create work dir");
    let build = work.join("build");
    let dest = work.join("dest");
    let started = Instant::now();

    let _restore = RestoreBinary::save(
        PathBuf::from(env!("CARGO_BIN_EXE_vireo")),
        work.join("vireo.cargo-build"),
    );
    step(
        "meson setup",
        Command::new("meson")
            .arg("setup")
            .arg(&build)
            .arg(root())
            .arg(format!("--prefix={PREFIX}"))
            .args(["--buildtype=debug", "-Dprofile=default"])
            .arg(format!("-Dcargo_target_dir={}", target_dir().display())),
    );
    step(
        "meson compile",
        Command::new("meson").arg("compile").arg("-C").arg(&build),
    );
    step(
        "meson install",
        Command::new("meson")
            .args(["install", "--no-rebuild", "--quiet", "-C"])
            .arg(&build)
            .arg("--destdir")
            .arg(&dest),
    );
    eprintln!("meson total: {:.1} s", started.elapsed().as_secs_f64());

    let vireo = assert_executable(&dest, "/usr/bin/vireo");
    assert_executable(&dest, "/usr/bin/vireoctl");
    assert_executable(&dest, "/usr/libexec/vireo-helper");

    // The installed binary carries the release identity and answers without a display.
    let output = Command::new(&vireo)
        .arg("--version")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run the installed vireo");
    assert!(output.status.success(), "vireo --version failed");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "vireo 0.1.0"
    );

    let desktop = assert_file(&dest, "/usr/share/applications/dev.vireo.Vireo.desktop");
    let desktop = fs::read_to_string(desktop).expect("read desktop file");
    assert!(desktop.contains("Icon=dev.vireo.Vireo\n"));
    assert!(
        desktop.contains("Name[de]="),
        "translations are not merged into the desktop file"
    );
    let metainfo = assert_file(&dest, "/usr/share/metainfo/dev.vireo.Vireo.metainfo.xml");
    let metainfo = fs::read_to_string(metainfo).expect("read metainfo");
    assert!(metainfo.contains("<id>dev.vireo.Vireo</id>"));
    assert!(metainfo.contains("xml:lang=\"de\""));
    let schema = assert_file(
        &dest,
        "/usr/share/glib-2.0/schemas/dev.vireo.Vireo.gschema.xml",
    );
    let schema = fs::read_to_string(schema).expect("read schema");
    assert!(schema.contains("id=\"dev.vireo.Vireo\" path=\"/dev/vireo/Vireo/\""));
    assert_file(
        &dest,
        "/usr/share/icons/hicolor/scalable/apps/dev.vireo.Vireo.svg",
    );
    assert_file(
        &dest,
        "/usr/share/icons/hicolor/symbolic/apps/dev.vireo.Vireo-symbolic.svg",
    );
    let policy = assert_file(&dest, "/usr/share/polkit-1/actions/dev.vireo.Vireo.policy");
    let policy = fs::read_to_string(policy).expect("read policy");
    assert!(policy.contains(
        "<annotate key=\"org.freedesktop.policykit.exec.path\">/usr/libexec/vireo-helper</annotate>"
    ));
    assert!(policy.contains("xml:lang=\"de\""));
    assert_file(&dest, "/usr/share/locale/de/LC_MESSAGES/vireo.mo");
}
