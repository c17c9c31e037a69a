//! Build configuration (written by `build.rs`) and the few facts derived from it:
//! where the helper is, which GSettings schema to use, whether this runs in Flatpak.

use std::path::{Path, PathBuf};

use relm4::gtk::gio;

#[allow(
    dead_code,
    reason = "generated build configuration; not every value is read in every build"
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}
pub use generated::*;

/// The polkit action that authorizes `vireo-helper` (see `data/dev.vireo.Vireo.policy.in`).
pub const POLKIT_ACTION: &str = "dev.vireo.Vireo.prepare-host";

/// Whether this is a development build (`.Devel` app id, git-hash version, `devel` style).
pub fn is_devel() -> bool {
    PROFILE == "devel"
}

/// Whether Vireo runs inside a Flatpak sandbox.
///
/// The sandbox cannot change the host (kernel command line, initramfs, driver bindings),
/// so the host-setup features are off there: see [`host_setup_available`].
pub fn is_flatpak() -> bool {
    Path::new("/.flatpak-info").exists()
}

/// Whether "Prepare for passthrough" and the other host-changing features may be offered.
pub fn host_setup_available() -> bool {
    !is_flatpak()
}

/// A helper program that Vireo runs but that is not on `PATH`.
#[derive(Debug, thiserror::Error)]
#[error(
    "the helper program “{name}” was not found (looked for {}); {hint}",
    .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
)]
pub struct HelperNotFound {
    /// The program's file name.
    pub name: String,
    /// Every path that was tried.
    pub searched: Vec<PathBuf>,
    hint: &'static str,
}

/// The path of a helper binary such as `vireo-helper`.
///
/// Installed builds use `LIBEXECDIR`; cargo builds look next to the running executable
/// (`target/debug/`, also when the executable is a test in `target/debug/deps/`).
/// Fails with the list of searched paths when the helper is missing.
pub fn libexec_path(name: &str) -> Result<PathBuf, HelperNotFound> {
    let searched: Vec<PathBuf> = if INSTALLED {
        vec![Path::new(LIBEXECDIR).join(name)]
    } else {
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf));
        let mut dirs = Vec::new();
        if let Some(dir) = exe_dir {
            if dir.file_name().is_some_and(|n| n == "deps")
                && let Some(parent) = dir.parent()
            {
                dirs.push(parent.join(name));
            }
            dirs.push(dir.join(name));
        }
        dirs
    };
    match searched.iter().find(|path| path.is_file()) {
        Some(path) => Ok(path.clone()),
        None => Err(HelperNotFound {
            name: name.to_owned(),
            searched,
            hint: if INSTALLED {
                "Vireo's installation is incomplete"
            } else {
                "build it with `cargo build --workspace`"
            },
        }),
    }
}

/// The GSettings schema of this build was found nowhere.
#[derive(Debug, thiserror::Error)]
#[error(
    "the settings schema “{APP_ID}” is not installed (looked in the system schema directories \
     and in {SCHEMADIR})"
)]
pub struct SchemaNotFound;

/// Looks up this build's GSettings schema.
///
/// Cargo builds prefer the schema that `build.rs` compiled into `OUT_DIR` (it matches the
/// code), with the system schemas as fallback; installed builds use the system schemas,
/// and the schema directory of their prefix when that is not on `XDG_DATA_DIRS`.
pub fn settings_schema() -> Result<gio::SettingsSchema, SchemaNotFound> {
    let default = gio::SettingsSchemaSource::default();
    let build_source = || {
        Path::new(SCHEMADIR)
            .join("gschemas.compiled")
            .is_file()
            .then(|| gio::SettingsSchemaSource::from_directory(SCHEMADIR, default.as_ref(), false))
            .and_then(|source| match source {
                Ok(source) => Some(source),
                Err(e) => {
                    log::warn!("cannot read the schemas in {SCHEMADIR}: {e}");
                    None
                }
            })
    };
    let lookup = |source: &gio::SettingsSchemaSource| source.lookup(APP_ID, true);
    let found = if INSTALLED {
        default
            .as_ref()
            .and_then(lookup)
            .or_else(|| build_source().as_ref().and_then(lookup))
    } else {
        build_source()
            .as_ref()
            .and_then(lookup)
            .or_else(|| default.as_ref().and_then(lookup))
    };
    found.ok_or(SchemaNotFound)
}

/// The application's settings (see `data/dev.vireo.Vireo.gschema.xml.in`).
///
/// Unlike `gio::Settings::new`, this never aborts the process for a missing schema.
pub fn settings() -> Result<gio::Settings, SchemaNotFound> {
    let schema = settings_schema()?;
    Ok(gio::Settings::new_full(
        &schema,
        None::<&gio::SettingsBackend>,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use relm4::gtk::prelude::*;

    use super::*;

    #[test]
    fn app_id_matches_profile() {
        if is_devel() {
            assert_eq!(APP_ID, "dev.vireo.Vireo.Devel");
        } else {
            assert_eq!(APP_ID, "dev.vireo.Vireo");
        }
    }

    #[test]
    fn build_schema_has_every_key_with_its_default() {
        let settings = settings().expect("the schema compiled by build.rs is found");
        let schema = settings_schema().expect("schema");
        for key in [
            "connections",
            "virt-type",
            "confirm-dangerous-actions",
            "window-width",
            "window-height",
            "is-maximized",
            "resync-interval",
        ] {
            assert!(schema.has_key(key), "missing key {key}");
        }
        let default = |key: &str| settings.default_value(key).expect("default").to_string();
        assert_eq!(default("connections"), "@as []");
        assert_eq!(default("virt-type"), "'auto'");
        assert_eq!(default("confirm-dangerous-actions"), "true");
        assert_eq!(default("resync-interval"), "uint32 300");
    }

    #[test]
    fn missing_helper_is_a_clear_error() {
        let err = libexec_path("vireo-no-such-helper").expect_err("no such helper");
        let message = err.to_string();
        assert!(message.contains("vireo-no-such-helper"), "{message}");
        assert!(!err.searched.is_empty());
    }
}
