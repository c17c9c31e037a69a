//! Every host path is read relative to a root directory, `/` on a real host and a
//! generated tree in tests (`--root DIR`, `VIREO_HOST_ROOT`).

use std::path::{Component, Path, PathBuf};

/// Environment variable that points the GUI at a fake host tree in tests.
pub const ROOT_ENV: &str = "VIREO_HOST_ROOT";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot {
    dir: PathBuf,
}

impl HostRoot {
    /// The real host.
    pub fn system() -> Self {
        Self {
            dir: PathBuf::from("/"),
        }
    }

    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `VIREO_HOST_ROOT` when set and non-empty, else the real host.
    pub fn from_env() -> Self {
        match std::env::var_os(ROOT_ENV) {
            Some(dir) if !dir.is_empty() => Self::new(dir),
            _ => Self::system(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn is_system(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// Maps an absolute host path such as `/sys/kernel/iommu_groups` into the root.
    /// `..` components are dropped so a path can never leave the root.
    pub fn path(&self, host_path: impl AsRef<Path>) -> PathBuf {
        let mut out = self.dir.clone();
        for component in host_path.as_ref().components() {
            if let Component::Normal(part) = component {
                out.push(part);
            }
        }
        out
    }
}

impl Default for HostRoot {
    fn default() -> Self {
        Self::system()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_paths_under_the_root() {
        let root = HostRoot::new("/tmp/fake");
        assert_eq!(
            root.path("/sys/kernel/iommu_groups"),
            PathBuf::from("/tmp/fake/sys/kernel/iommu_groups")
        );
        assert_eq!(
            root.path("/etc/../etc/default/grub"),
            PathBuf::from("/tmp/fake/etc/etc/default/grub")
        );
        assert_eq!(
            HostRoot::system().path("/proc/cmdline"),
            PathBuf::from("/proc/cmdline")
        );
    }
}
