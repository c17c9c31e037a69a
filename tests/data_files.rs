//! The data files, validated as meson installs them: `@APP_ID@` and friends substituted
//! for both profiles, translations merged with `msgfmt` (what meson's `i18n.merge_file`
//! runs), then checked with the validators distributions use. A missing validator is a
//! failure: `scripts/setup-deps.sh` installs them all.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const BASE_ID: &str = "dev.vireo.Vireo";
const PROFILES: [&str; 2] = ["dev.vireo.Vireo", "dev.vireo.Vireo.Devel"];
const LIBEXECDIR: &str = "/usr/libexec";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory under cargo's per-target temporary directory.
fn scratch(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "data-files-{}-{name}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}

/// Runs a validator; a tool that is not installed fails the test with the package to
/// install.
fn run(tool: &str, package: &str, args: &[&std::ffi::OsStr]) -> Output {
    match Command::new(tool).args(args).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{tool}` is not installed (Debian package `{package}`); run scripts/setup-deps.sh"
        ),
        Err(e) => panic!("cannot run `{tool}`: {e}"),
    }
}

fn run_ok(tool: &str, package: &str, args: &[&std::ffi::OsStr]) -> Output {
    let output = run(tool, package, args);
    assert!(
        output.status.success(),
        "`{tool} {}` failed ({}):\n{}{}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn os(s: &(impl AsRef<std::ffi::OsStr> + ?Sized)) -> &std::ffi::OsStr {
    s.as_ref()
}

/// The template with the substitutions that `data/meson.build` makes.
fn configure(template: &str, app_id: &str) -> String {
    let text = fs::read_to_string(root().join("data").join(template))
        .unwrap_or_else(|e| panic!("reading data/{template}: {e}"));
    let configured = text
        .replace("@APP_ID@", app_id)
        .replace("@SCHEMA_PATH@", &format!("/{}/", app_id.replace('.', "/")))
        .replace("@GETTEXT_PACKAGE@", "vireo")
        .replace("@LIBEXECDIR@", LIBEXECDIR);
    assert!(
        !configured.contains('@'),
        "data/{template} has a placeholder that meson does not fill in"
    );
    configured
}

/// Writes the configured template and merges the translations into it like
/// `i18n.merge_file` (`msgfmt --desktop` / `--xml`); returns (configured, merged).
fn configure_and_merge(
    template: &str,
    app_id: &str,
    output: &str,
    kind: &str,
) -> (PathBuf, PathBuf) {
    let dir = scratch(kind);
    let configured = dir.join(format!("{output}.in"));
    fs::write(&configured, configure(template, app_id)).expect("write configured file");
    let merged = dir.join(output);
    run_ok(
        "msgfmt",
        "gettext",
        &[
            os(&format!("--{kind}")),
            os("--template"),
            os(&configured),
            os("-d"),
            os(&root().join("po")),
            os("-o"),
            os(&merged),
        ],
    );
    (configured, merged)
}

#[test]
fn desktop_file_is_valid_and_translated() {
    for app_id in PROFILES {
        let (configured, merged) = configure_and_merge(
            "dev.vireo.Vireo.desktop.in",
            app_id,
            &format!("{app_id}.desktop"),
            "desktop",
        );
        // The .in copy only differs by name; validate it under its installed name too.
        let plain = configured.with_file_name(format!("plain-{app_id}.desktop"));
        fs::copy(&configured, &plain).expect("copy");
        for file in [&plain, &merged] {
            let output = run_ok("desktop-file-validate", "desktop-file-utils", &[os(file)]);
            assert!(
                output.stdout.is_empty(),
                "desktop-file-validate warns about {}:\n{}",
                file.display(),
                String::from_utf8_lossy(&output.stdout)
            );
        }
        let text = fs::read_to_string(&merged).expect("read merged desktop file");
        let entry = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("the desktop file has no {key}"))
                .to_owned()
        };
        assert_eq!(entry("Icon"), app_id);
        assert_eq!(entry("Exec"), "vireo");
        let categories = entry("Categories");
        for category in ["System", "Emulator"] {
            assert!(
                categories.split(';').any(|c| c == category),
                "Categories lacks {category}"
            );
        }
        for keywords in [entry("Keywords"), entry("Keywords[de]")] {
            for keyword in ["VirtualBox", "KVM", "QEMU", "libvirt"] {
                assert!(
                    keywords.split(';').any(|k| k == keyword),
                    "Keywords lacks {keyword}: {keywords}"
                );
            }
            assert!(
                keywords.ends_with(';'),
                "Keywords must end with ';': {keywords}"
            );
        }
        assert!(entry("Keywords").split(';').any(|k| k == "passthrough"));
        assert!(!entry("Comment[de]").is_empty());
        assert!(!entry("GenericName[de]").is_empty());
    }
}

#[test]
fn metainfo_is_valid() {
    for app_id in PROFILES {
        let (_, merged) = configure_and_merge(
            "dev.vireo.Vireo.metainfo.xml.in",
            app_id,
            &format!("{app_id}.metainfo.xml"),
            "xml",
        );
        let output = run(
            "appstreamcli",
            "appstream",
            &[os("validate"), os("--no-net"), os("--explain"), os(&merged)],
        );
        assert!(
            output.status.success(),
            "appstreamcli rejects the metainfo of {app_id}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = fs::read_to_string(&merged).expect("read merged metainfo");
        assert!(text.contains(&format!("<id>{app_id}</id>")));
        assert!(text.contains(&format!(
            "<launchable type=\"desktop-id\">{app_id}.desktop</launchable>"
        )));
        assert!(text.contains("<release version=\"0.1.0\""));
        assert!(text.contains("<content_rating"));
        assert!(
            text.contains("xml:lang=\"de\""),
            "no German translation merged"
        );
    }
}

#[test]
fn gsettings_schema_compiles_strictly_with_the_expected_keys() {
    let dir = scratch("schemas");
    for app_id in PROFILES {
        fs::write(
            dir.join(format!("{app_id}.gschema.xml")),
            configure("dev.vireo.Vireo.gschema.xml.in", app_id),
        )
        .expect("write schema");
    }
    run_ok(
        "glib-compile-schemas",
        "libglib2.0-bin",
        &[os("--strict"), os("--dry-run"), os(&dir)],
    );
    // Compile for real to read the defaults back through GSettings.
    run_ok(
        "glib-compile-schemas",
        "libglib2.0-bin",
        &[os("--strict"), os(&dir)],
    );
    let expected = [
        ("connections", "@as []"),
        ("virt-type", "'auto'"),
        ("confirm-dangerous-actions", "true"),
        ("window-width", "960"),
        ("window-height", "640"),
        ("is-maximized", "false"),
        ("resync-interval", "uint32 300"),
    ];
    for app_id in PROFILES {
        for (key, default) in expected {
            let output = Command::new("gsettings")
                .env("GSETTINGS_BACKEND", "memory")
                .arg("--schemadir")
                .arg(&dir)
                .args(["get", app_id, key])
                .output()
                .expect("gsettings (libglib2.0-bin) is installed");
            assert!(
                output.status.success(),
                "gsettings get {app_id} {key}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&output.stdout).trim(),
                default,
                "{app_id} {key}"
            );
        }
        let output = Command::new("gsettings")
            .env("GSETTINGS_BACKEND", "memory")
            .arg("--schemadir")
            .arg(&dir)
            .args(["range", app_id, "virt-type"])
            .output()
            .expect("gsettings");
        let range = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            range.split_whitespace().collect::<Vec<_>>(),
            ["enum", "'auto'", "'kvm'", "'qemu'"]
        );
    }
}

#[test]
fn polkit_policy_is_valid() {
    let (configured, merged) = configure_and_merge(
        "dev.vireo.Vireo.policy.in",
        BASE_ID,
        &format!("{BASE_ID}.policy"),
        "xml",
    );
    let dtd = Path::new("/usr/share/polkit-1/policyconfig-1.dtd");
    for file in [&configured, &merged] {
        if dtd.exists() {
            run_ok(
                "xmllint",
                "libxml2-utils",
                &[os("--noout"), os("--dtdvalid"), os(dtd), os(file)],
            );
        } else {
            eprintln!(
                "{} is missing (package polkitd): checking well-formedness only",
                dtd.display()
            );
            run_ok("xmllint", "libxml2-utils", &[os("--noout"), os(file)]);
        }
    }
    let text = fs::read_to_string(&merged).expect("read merged policy");
    assert!(text.contains("<action id=\"dev.vireo.Vireo.prepare-host\">"));
    assert!(text.contains(&format!(
        "<annotate key=\"org.freedesktop.policykit.exec.path\">{LIBEXECDIR}/vireo-helper</annotate>"
    )));
    assert!(text.contains("<allow_active>auth_admin_keep</allow_active>"));
    assert!(
        text.contains("xml:lang=\"de\""),
        "no German translation merged"
    );
}

#[test]
fn resources_and_icons_are_well_formed() {
    let root = root();
    let gresource = root.join("resources/resources.gresource.xml");
    let text = fs::read_to_string(&gresource).expect("read resources.gresource.xml");
    let mut files = vec![gresource.clone()];
    // Every <file> exists in one of the source directories build.rs passes.
    for entry in text.split("<file").skip(1) {
        let name = entry
            .split_once('>')
            .and_then(|(_, rest)| rest.split_once("</file>"))
            .map(|(name, _)| name.trim())
            .expect("a <file>NAME</file> entry");
        let found = ["resources", "data"]
            .iter()
            .map(|dir| root.join(dir).join(name))
            .find(|path| path.is_file())
            .unwrap_or_else(|| panic!("{name} (in resources.gresource.xml) does not exist"));
        files.push(found);
    }
    for app_id in PROFILES {
        files.push(root.join(format!("data/icons/hicolor/scalable/apps/{app_id}.svg")));
    }
    files.push(root.join(format!(
        "data/icons/hicolor/symbolic/apps/{BASE_ID}-symbolic.svg"
    )));
    for file in &files {
        assert!(file.is_file(), "{} is missing", file.display());
        if file.extension().is_some_and(|e| e == "css") {
            continue;
        }
        run_ok("xmllint", "libxml2-utils", &[os("--noout"), os(file)]);
    }
}

#[test]
fn flatpak_manifest_builds_the_libvirt_client_and_grants_its_sockets() {
    let path = root().join("flatpak/dev.vireo.Vireo.json");
    let text = fs::read_to_string(&path).expect("read the flatpak manifest");
    let manifest: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let string = |value: &serde_json::Value, key: &str| {
        value[key]
            .as_str()
            .unwrap_or_else(|| panic!("`{key}` is missing or not a string"))
            .to_owned()
    };
    let strings = |value: &serde_json::Value, key: &str| -> Vec<String> {
        value[key]
            .as_array()
            .unwrap_or_else(|| panic!("`{key}` is missing or not a list"))
            .iter()
            .map(|v| v.as_str().expect("a string").to_owned())
            .collect()
    };

    assert_eq!(string(&manifest, "id"), BASE_ID);
    assert_eq!(string(&manifest, "command"), "vireo");
    assert_eq!(string(&manifest, "runtime"), "org.gnome.Platform");
    assert_eq!(string(&manifest, "sdk"), "org.gnome.Sdk");
    let version: u32 = string(&manifest, "runtime-version")
        .parse()
        .expect("runtime-version is a GNOME release number");
    assert!(version >= 47, "GNOME runtime {version} is older than 47");
    assert!(
        strings(&manifest, "sdk-extensions")
            .iter()
            .any(|e| e == "org.freedesktop.Sdk.Extension.rust-stable")
    );

    let finish_args = strings(&manifest, "finish-args");
    for arg in [
        "--filesystem=/run/libvirt",
        "--filesystem=xdg-run/libvirt",
        "--socket=wayland",
        "--socket=fallback-x11",
        "--share=ipc",
        "--device=dri",
        "--talk-name=org.freedesktop.secrets",
    ] {
        assert!(
            finish_args.iter().any(|a| a == arg),
            "finish-args lacks {arg}"
        );
    }

    let modules = manifest["modules"].as_array().expect("modules is a list");
    let module = |name: &str| {
        modules
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no `{name}` module"))
    };
    let libvirt = module("libvirt");
    assert_eq!(string(libvirt, "buildsystem"), "meson");
    let opts = strings(libvirt, "config-opts");
    for opt in [
        "-Ddriver_remote=enabled",
        "-Ddriver_libvirtd=disabled",
        "-Ddriver_qemu=disabled",
        "-Ddocs=disabled",
        "-Dtests=disabled",
    ] {
        assert!(
            opts.iter().any(|o| o == opt),
            "libvirt config-opts lack {opt}"
        );
    }
    let sources = libvirt["sources"].as_array().expect("libvirt sources");
    assert!(sources.iter().any(|s| {
        s["type"] == "archive"
            && s["url"]
                .as_str()
                .is_some_and(|u| u.contains("libvirt-") && u.ends_with(".tar.xz"))
            && s["sha256"]
                .as_str()
                .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
    }));
    for module in modules {
        for source in module["sources"].as_array().into_iter().flatten() {
            if source["type"] == "archive" {
                assert!(
                    source["url"].is_string() && source["sha256"].is_string(),
                    "{source}"
                );
            }
        }
    }

    let vireo = modules.last().expect("modules");
    assert_eq!(vireo["name"], "vireo", "the vireo module must come last");
    assert_eq!(string(vireo, "buildsystem"), "meson");
    assert!(
        vireo["sources"]
            .as_array()
            .expect("vireo sources")
            .iter()
            .any(|s| s["type"] == "dir")
    );
}
