//! The `virt-type` setting (`auto` | `kvm` | `qemu`) and the defaults that follow from it.
//!
//! `auto` uses KVM when the host's capabilities offer a `<domain type='kvm'>` for the guest
//! architecture, else QEMU's TCG emulation. The CPU mode default comes from the domain
//! capabilities for the resolved type: host-passthrough if supported, else host-model,
//! else a named model.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::libvirt::xmltree::{self, Element};

/// The virtualization type setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VirtType {
    /// KVM when the host offers it, else QEMU (TCG).
    #[default]
    Auto,
    Kvm,
    Qemu,
}

impl VirtType {
    pub fn as_str(self) -> &'static str {
        match self {
            VirtType::Auto => "auto",
            VirtType::Kvm => "kvm",
            VirtType::Qemu => "qemu",
        }
    }

    /// Resolves the setting against host capabilities XML for `arch` (`None`: the host's
    /// architecture). An explicit type the host does not offer is an error, so the user
    /// hears it before a VM is defined, not when it fails to start.
    pub fn resolve(
        self,
        capabilities_xml: &str,
        arch: Option<&str>,
    ) -> Result<ResolvedVirtType, VirtTypeError> {
        resolve(self, capabilities_xml, arch)
    }
}

impl fmt::Display for VirtType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VirtType {
    type Err = VirtTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(VirtType::Auto),
            "kvm" => Ok(VirtType::Kvm),
            "qemu" | "tcg" => Ok(VirtType::Qemu),
            _ => Err(VirtTypeError::Unknown(s.to_owned())),
        }
    }
}

/// A virtualization type as libvirt names it in `<domain type='…'>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResolvedVirtType {
    Kvm,
    Qemu,
}

impl ResolvedVirtType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolvedVirtType::Kvm => "kvm",
            ResolvedVirtType::Qemu => "qemu",
        }
    }
}

impl fmt::Display for ResolvedVirtType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CPU mode a new VM gets by default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "mode", content = "model", rename_all = "kebab-case")]
pub enum CpuModeDefault {
    HostPassthrough,
    HostModel,
    /// `<cpu mode='custom'><model>NAME</model></cpu>`.
    Named(String),
}

impl CpuModeDefault {
    /// The value of `<cpu mode='…'>`.
    pub fn mode(&self) -> &'static str {
        match self {
            CpuModeDefault::HostPassthrough => "host-passthrough",
            CpuModeDefault::HostModel => "host-model",
            CpuModeDefault::Named(_) => "custom",
        }
    }

    /// The model name for `custom`.
    pub fn model(&self) -> Option<&str> {
        match self {
            CpuModeDefault::Named(m) => Some(m),
            _ => None,
        }
    }
}

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VirtTypeError {
    #[error("unknown virtualization type “{0}” (expected auto, kvm or qemu)")]
    Unknown(String),
    #[error("cannot read the {what}: {message}")]
    Parse { what: &'static str, message: String },
    #[error("this host does not offer {virt_type} virtualization for {arch} guests")]
    NotOffered {
        virt_type: ResolvedVirtType,
        arch: String,
    },
    #[error("the host's domain capabilities offer no usable CPU mode or model")]
    NoCpuModel,
}

fn parse(xml: &str, what: &'static str) -> Result<Element, VirtTypeError> {
    xmltree::parse(xml).map_err(|message| VirtTypeError::Parse { what, message })
}

/// The host architecture named by capabilities XML (`<host><cpu><arch>`).
pub fn host_arch(capabilities_xml: &str) -> Result<String, VirtTypeError> {
    let root = parse(capabilities_xml, "host capabilities")?;
    host_arch_of(&root)
}

fn host_arch_of(root: &Element) -> Result<String, VirtTypeError> {
    root.child("host")
        .and_then(|h| h.child("cpu"))
        .and_then(|c| c.child("arch"))
        .map(|a| a.text().to_owned())
        .filter(|a| !a.is_empty())
        .ok_or(VirtTypeError::Parse {
            what: "host capabilities",
            message: "no <host><cpu><arch>".to_owned(),
        })
}

/// The domain types (`kvm`, `qemu`…) the host offers for `arch`, in document order.
pub fn offered_types(capabilities_xml: &str, arch: &str) -> Result<Vec<String>, VirtTypeError> {
    let root = parse(capabilities_xml, "host capabilities")?;
    Ok(offered_types_of(&root, arch))
}

fn offered_types_of(root: &Element, arch: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for guest in root.children_named("guest") {
        if guest.child("os_type").is_some_and(|o| o.text() != "hvm") {
            continue;
        }
        for a in guest.children_named("arch") {
            if a.attr("name") != Some(arch) {
                continue;
            }
            for d in a.children_named("domain") {
                if let Some(t) = d.attr("type")
                    && !out.iter().any(|o| o == t)
                {
                    out.push(t.to_owned());
                }
            }
        }
    }
    out
}

/// See [`VirtType::resolve`].
pub fn resolve(
    virt_type: VirtType,
    capabilities_xml: &str,
    arch: Option<&str>,
) -> Result<ResolvedVirtType, VirtTypeError> {
    let root = parse(capabilities_xml, "host capabilities")?;
    let arch = match arch {
        Some(a) => a.to_owned(),
        None => host_arch_of(&root)?,
    };
    let offered = offered_types_of(&root, &arch);
    let has = |t: ResolvedVirtType| offered.iter().any(|o| o == t.as_str());
    let wanted = match virt_type {
        VirtType::Auto if has(ResolvedVirtType::Kvm) => return Ok(ResolvedVirtType::Kvm),
        VirtType::Auto | VirtType::Qemu => ResolvedVirtType::Qemu,
        VirtType::Kvm => ResolvedVirtType::Kvm,
    };
    if has(wanted) {
        Ok(wanted)
    } else {
        Err(VirtTypeError::NotOffered {
            virt_type: wanted,
            arch,
        })
    }
}

/// The default CPU mode from domain capabilities XML: host-passthrough if supported, else
/// host-model, else the first usable named model.
pub fn default_cpu_mode(domain_capabilities_xml: &str) -> Result<CpuModeDefault, VirtTypeError> {
    let root = parse(domain_capabilities_xml, "domain capabilities")?;
    let Some(cpu) = root.child("cpu") else {
        return Err(VirtTypeError::NoCpuModel);
    };
    let mode = |name: &str| {
        cpu.children_named("mode")
            .find(|m| m.attr("name") == Some(name) && m.attr("supported") == Some("yes"))
    };
    if mode("host-passthrough").is_some() {
        return Ok(CpuModeDefault::HostPassthrough);
    }
    if mode("host-model").is_some() {
        return Ok(CpuModeDefault::HostModel);
    }
    mode("custom")
        .and_then(|custom| {
            custom
                .children_named("model")
                .find(|m| m.attr("usable") != Some("no") && !m.text().is_empty())
        })
        .map(|m| CpuModeDefault::Named(m.text().to_owned()))
        .ok_or(VirtTypeError::NoCpuModel)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Capabilities of real hosts (virt-manager's test data, see tests/data/capabilities).
    fn corpus(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/capabilities")
            .join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("test data {} unreadable: {e}", path.display()))
    }

    #[test]
    fn parses_and_prints() {
        for t in [VirtType::Auto, VirtType::Kvm, VirtType::Qemu] {
            assert_eq!(t.to_string().parse::<VirtType>().unwrap(), t);
        }
        assert_eq!(" KVM ".parse::<VirtType>().unwrap(), VirtType::Kvm);
        assert!(matches!(
            "xen".parse::<VirtType>(),
            Err(VirtTypeError::Unknown(_))
        ));
        assert_eq!(VirtType::default(), VirtType::Auto);
    }

    #[test]
    fn auto_picks_kvm_when_offered() {
        let caps = corpus("kvm-x86_64.xml");
        assert_eq!(host_arch(&caps).unwrap(), "x86_64");
        assert_eq!(
            VirtType::Auto.resolve(&caps, None).unwrap(),
            ResolvedVirtType::Kvm
        );
        assert_eq!(
            VirtType::Qemu.resolve(&caps, None).unwrap(),
            ResolvedVirtType::Qemu
        );
        // aarch64 is emulated only on this host.
        assert_eq!(
            VirtType::Auto.resolve(&caps, Some("aarch64")).unwrap(),
            ResolvedVirtType::Qemu
        );
        assert_eq!(
            VirtType::Kvm.resolve(&caps, Some("aarch64")),
            Err(VirtTypeError::NotOffered {
                virt_type: ResolvedVirtType::Kvm,
                arch: "aarch64".into()
            })
        );
    }

    #[test]
    fn auto_falls_back_to_qemu_without_kvm() {
        let caps = r#"<capabilities><host><cpu><arch>x86_64</arch></cpu></host>
            <guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/></arch></guest>
            </capabilities>"#;
        assert_eq!(offered_types(caps, "x86_64").unwrap(), vec!["qemu"]);
        assert_eq!(
            VirtType::Auto.resolve(caps, None).unwrap(),
            ResolvedVirtType::Qemu
        );
        assert!(VirtType::Kvm.resolve(caps, None).is_err());
    }

    #[test]
    fn test_driver_style_capabilities() {
        let caps = corpus("test-qemu-with-kvm.xml");
        assert_eq!(
            VirtType::Auto.resolve(&caps, Some("x86_64")).unwrap(),
            ResolvedVirtType::Kvm
        );
    }

    #[test]
    fn cpu_mode_defaults_from_domcaps() {
        for f in [
            "kvm-x86_64-domcaps-latest.xml",
            "kvm-x86_64-domcaps-insecure.xml",
            "kvm-x86_64-domcaps-oldfirmware.xml",
        ] {
            let xml = corpus(f);
            assert_eq!(
                default_cpu_mode(&xml).unwrap(),
                CpuModeDefault::HostPassthrough,
                "{f}"
            );
        }
        let latest = corpus("kvm-x86_64-domcaps-latest.xml");
        let no_passthrough = latest.replace(
            "<mode name='host-passthrough' supported='yes'>",
            "<mode name='host-passthrough' supported='no'>",
        );
        assert_eq!(
            default_cpu_mode(&no_passthrough).unwrap(),
            CpuModeDefault::HostModel
        );
        let named_only = no_passthrough.replace(
            "<mode name='host-model' supported='yes'>",
            "<mode name='host-model' supported='no'>",
        );
        let mode = default_cpu_mode(&named_only).unwrap();
        assert_eq!(mode, CpuModeDefault::Named("qemu64".into()));
        assert_eq!(mode.mode(), "custom");
        assert_eq!(mode.model(), Some("qemu64"));
    }

    #[test]
    fn cpu_mode_skips_unusable_models() {
        let xml = r#"<domainCapabilities><cpu>
            <mode name='host-passthrough' supported='no'/>
            <mode name='host-model' supported='no'/>
            <mode name='custom' supported='yes'>
              <model usable='no' vendor='Intel'>Skylake</model>
              <model usable='yes' vendor='unknown'>qemu64</model>
            </mode></cpu></domainCapabilities>"#;
        assert_eq!(
            default_cpu_mode(xml).unwrap(),
            CpuModeDefault::Named("qemu64".into())
        );
        assert_eq!(
            default_cpu_mode("<domainCapabilities/>"),
            Err(VirtTypeError::NoCpuModel)
        );
        assert!(matches!(
            default_cpu_mode("<broken"),
            Err(VirtTypeError::Parse { .. })
        ));
    }
}
