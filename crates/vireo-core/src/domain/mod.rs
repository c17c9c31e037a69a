//! The lossless domain model: a libvirt `<domain>` document with typed views.
//!
//! [`Domain`] wraps a [`Document`] whose root is `<domain>`. Getters read through the
//! tree; every `set_*` method touches only its own nodes: it edits them in place,
//! creates them at their conventional place (libvirt's order) when missing, and removes
//! them when set to `None`. Everything else (unknown elements, `qemu:commandline`,
//! comments, other tools' metadata, formatting) is written back as it was read.
//!
//! ```
//! use vireo_core::domain::Domain;
//! let mut d = Domain::parse("<domain type='kvm'>\n  <name>vm</name>\n  <memory unit='GiB'>2</memory>\n</domain>").unwrap();
//! assert_eq!(d.memory_kib().unwrap(), Some(2 * 1024 * 1024));
//! d.set_memory_kib(4 * 1024 * 1024);
//! d.set_current_memory_kib(Some(1024 * 1024));
//! assert_eq!(d.to_xml(), "<domain type='kvm'>\n  <name>vm</name>\n  <memory unit='GiB'>4</memory>\n  <currentMemory>1048576</currentMemory>\n</domain>");
//! ```

mod clock;
mod cpu;
mod devices;
mod features;
mod os;
pub mod units;
mod util;

use std::borrow::Cow;
use std::fmt;

pub use clock::{Clock, ClockMut, Timer};
pub use cpu::{CPU_ORDER, Cpu, CpuFeature, CpuModel, CpuMut, Topology};
pub use devices::*;
pub use features::{FEATURES_ORDER, Features, FeaturesMut, HYPERV_ORDER, Hyperv};
pub use os::{BootMenu, FirmwareFeature, Loader, Nvram, OS_ORDER, Os, OsMut};

use crate::xml::{Document, Element, XmlError};
use util::{child_text, num_attr, num_text, set_child_text};

/// The namespace of Vireo's own metadata.
pub const VIREO_NS: &str = "https://vireo.dev/xmlns/vireo/1.0";
/// The prefix Vireo uses for its metadata namespace.
pub const VIREO_PREFIX: &str = "vireo";
/// The namespace of libvirt's QEMU extensions (`qemu:commandline`, …).
pub const QEMU_NS: &str = "http://libvirt.org/schemas/domain/qemu/1.0";

/// The order in which libvirt writes the children of `<domain>`.
pub const DOMAIN_ORDER: &[&str] = &[
    "name",
    "uuid",
    "hwuuid",
    "genid",
    "title",
    "description",
    "metadata",
    "maxMemory",
    "memory",
    "currentMemory",
    "blkiotune",
    "memtune",
    "memoryBacking",
    "vcpu",
    "vcpus",
    "iothreads",
    "iothreadids",
    "defaultiothread",
    "cputune",
    "numatune",
    "resource",
    "sysinfo",
    "bootloader",
    "bootloader_args",
    "os",
    "idmap",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "on_lockfailure",
    "pm",
    "perf",
    "devices",
    "seclabel",
    "keywrap",
    "launchSecurity",
];

/// Errors of the domain model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The XML is malformed or its root is not `<domain>`.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// A value in the document cannot be read as what it should be.
    #[error("invalid value {value:?} for {what}: {reason}")]
    InvalidValue {
        what: String,
        value: String,
        reason: String,
    },
}

/// Parses one XML document and writes it back (`vireoctl xml roundtrip FILE`). An
/// unmodified document comes back byte for byte.
pub fn roundtrip(input: &str) -> Result<String, XmlError> {
    Ok(Document::parse(input)?.to_string())
}

/// A domain's lifecycle events (`<on_poweroff>`, `<on_reboot>`, `<on_crash>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleEvent {
    Poweroff,
    Reboot,
    Crash,
}

impl LifecycleEvent {
    fn element(self) -> &'static str {
        match self {
            LifecycleEvent::Poweroff => "on_poweroff",
            LifecycleEvent::Reboot => "on_reboot",
            LifecycleEvent::Crash => "on_crash",
        }
    }
}

/// `<vcpu>`: the maximum number of virtual CPUs and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vcpu {
    /// The element's value: the maximum count.
    pub count: u32,
    /// `placement` (`static` or `auto`).
    pub placement: Option<String>,
    /// `current`: the number online at boot, when lower than the maximum.
    pub current: Option<u32>,
    /// `cpuset`.
    pub cpuset: Option<String>,
}

/// `<maxMemory>`: the memory hotplug ceiling (read only: Vireo never edits it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxMemory {
    pub kib: u64,
    pub slots: Option<u32>,
}

/// A libvirt domain definition, lossless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    doc: Document,
}

impl Domain {
    /// Parses a domain definition; the root must be `<domain>`.
    pub fn parse(xml: &str) -> Result<Domain, DomainError> {
        Ok(Domain::from_document(Document::parse(xml)?)?)
    }

    /// Wraps a parsed document; its root must be `<domain>`.
    pub fn from_document(doc: Document) -> Result<Domain, XmlError> {
        if doc.root().name() != "domain" {
            return Err(XmlError::UnexpectedRoot {
                expected: "domain".to_string(),
                found: doc.root().name().to_string(),
            });
        }
        Ok(Domain { doc })
    }

    /// A minimal new domain: `<domain type="…"><name>…</name></domain>`.
    pub fn new(domain_type: &str, name: &str) -> Domain {
        let root = Element::new("domain")
            .with_attr("type", domain_type)
            .with_child(Element::new("name").with_text(name));
        Domain {
            doc: Document::new(root),
        }
    }

    /// The underlying document.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// The underlying document, mutable (for anything the typed views do not cover).
    pub fn document_mut(&mut self) -> &mut Document {
        &mut self.doc
    }

    /// Gives up the domain, keeping its document.
    pub fn into_document(self) -> Document {
        self.doc
    }

    /// The `<domain>` element.
    pub fn root(&self) -> &Element {
        self.doc.root()
    }

    /// The `<domain>` element, mutable.
    pub fn root_mut(&mut self) -> &mut Element {
        self.doc.root_mut()
    }

    /// The XML text.
    pub fn to_xml(&self) -> String {
        self.doc.to_string()
    }

    fn set_top_text(&mut self, name: &str, value: Option<&str>) {
        set_child_text(self.root_mut(), name, DOMAIN_ORDER, value);
    }

    // ----- identity -----

    /// The `type` attribute (`kvm`, `qemu`, `test`, …).
    pub fn domain_type(&self) -> Option<Cow<'_, str>> {
        self.root().attr("type")
    }

    /// Sets the `type` attribute.
    pub fn set_domain_type(&mut self, domain_type: &str) {
        self.root_mut().set_attr("type", domain_type);
    }

    /// `<name>`.
    pub fn name(&self) -> Option<String> {
        child_text(self.root(), "name")
    }

    /// Sets `<name>`.
    pub fn set_name(&mut self, name: &str) {
        self.set_top_text("name", Some(name));
    }

    /// `<uuid>`.
    pub fn uuid(&self) -> Option<String> {
        child_text(self.root(), "uuid")
    }

    /// Sets or removes `<uuid>`.
    pub fn set_uuid(&mut self, uuid: Option<&str>) {
        self.set_top_text("uuid", uuid);
    }

    /// `<title>`.
    pub fn title(&self) -> Option<String> {
        self.root().child("title").map(|e| e.text().into_owned())
    }

    /// Sets or removes `<title>`.
    pub fn set_title(&mut self, title: Option<&str>) {
        self.set_top_text("title", title);
    }

    /// `<description>`.
    pub fn description(&self) -> Option<String> {
        self.root()
            .child("description")
            .map(|e| e.text().into_owned())
    }

    /// Sets or removes `<description>`.
    pub fn set_description(&mut self, description: Option<&str>) {
        self.set_top_text("description", description);
    }

    // ----- memory -----

    fn memory_of(&self, name: &str) -> Result<Option<u64>, DomainError> {
        let Some(el) = self.root().child(name) else {
            return Ok(None);
        };
        let value: u64 = num_text(el)?;
        Ok(Some(units::to_kib(value, el.attr("unit").as_deref())?))
    }

    fn set_memory_of(&mut self, name: &str, kib: u64) {
        let el = self.root_mut().ensure_child_ordered(name, DOMAIN_ORDER);
        if let Some(unit) = el.attr("unit").map(Cow::into_owned) {
            match units::from_kib(kib, &unit) {
                Some(v) => el.set_text(&v.to_string()),
                None => {
                    el.set_attr("unit", "KiB");
                    el.set_text(&kib.to_string());
                }
            }
        } else {
            el.set_text(&kib.to_string());
        }
    }

    /// The maximum memory (`<memory>`) in KiB, whatever unit the document uses.
    pub fn memory_kib(&self) -> Result<Option<u64>, DomainError> {
        self.memory_of("memory")
    }

    /// Sets `<memory>` ("Maximum"). The document's unit is kept when the value is a
    /// whole number of it; otherwise the value is written in KiB.
    pub fn set_memory_kib(&mut self, kib: u64) {
        self.set_memory_of("memory", kib);
    }

    /// The current memory (`<currentMemory>`) in KiB.
    pub fn current_memory_kib(&self) -> Result<Option<u64>, DomainError> {
        self.memory_of("currentMemory")
    }

    /// Sets or removes `<currentMemory>` ("Current"), like [`Domain::set_memory_kib`].
    pub fn set_current_memory_kib(&mut self, kib: Option<u64>) {
        match kib {
            Some(k) => self.set_memory_of("currentMemory", k),
            None => {
                self.root_mut().remove_child("currentMemory");
            }
        }
    }

    /// `<maxMemory>`, the hotplug ceiling. Preserved, never edited.
    pub fn max_memory(&self) -> Result<Option<MaxMemory>, DomainError> {
        let Some(el) = self.root().child("maxMemory") else {
            return Ok(None);
        };
        let value: u64 = num_text(el)?;
        Ok(Some(MaxMemory {
            kib: units::to_kib(value, el.attr("unit").as_deref())?,
            slots: num_attr(el, "slots")?,
        }))
    }

    // ----- vcpus -----

    /// `<vcpu>`.
    pub fn vcpu(&self) -> Result<Option<Vcpu>, DomainError> {
        let Some(el) = self.root().child("vcpu") else {
            return Ok(None);
        };
        Ok(Some(Vcpu {
            count: num_text(el)?,
            placement: el.attr("placement").map(Cow::into_owned),
            current: num_attr(el, "current")?,
            cpuset: el.attr("cpuset").map(Cow::into_owned),
        }))
    }

    /// Sets the maximum vCPU count (the value of `<vcpu>`).
    pub fn set_vcpus(&mut self, count: u32) {
        self.root_mut()
            .ensure_child_ordered("vcpu", DOMAIN_ORDER)
            .set_text(&count.to_string());
    }

    /// Sets or removes `<vcpu current=>`.
    pub fn set_vcpu_current(&mut self, current: Option<u32>) {
        let v = current.map(|c| c.to_string());
        self.vcpu_attr("current", v.as_deref());
    }

    /// Sets or removes `<vcpu placement=>`.
    pub fn set_vcpu_placement(&mut self, placement: Option<&str>) {
        self.vcpu_attr("placement", placement);
    }

    fn vcpu_attr(&mut self, attr: &str, value: Option<&str>) {
        match value {
            Some(v) => self
                .root_mut()
                .ensure_child_ordered("vcpu", DOMAIN_ORDER)
                .set_attr(attr, v),
            None => {
                if let Some(el) = self.root_mut().child_mut("vcpu") {
                    el.remove_attr(attr);
                }
            }
        }
    }

    // ----- lifecycle -----

    /// The action for a lifecycle event (`destroy`, `restart`, `preserve`, …).
    pub fn lifecycle(&self, event: LifecycleEvent) -> Option<String> {
        child_text(self.root(), event.element())
    }

    /// Sets or removes the action for a lifecycle event.
    pub fn set_lifecycle(&mut self, event: LifecycleEvent, action: Option<&str>) {
        self.set_top_text(event.element(), action);
    }

    /// `<on_poweroff>`.
    pub fn on_poweroff(&self) -> Option<String> {
        self.lifecycle(LifecycleEvent::Poweroff)
    }

    /// `<on_reboot>`.
    pub fn on_reboot(&self) -> Option<String> {
        self.lifecycle(LifecycleEvent::Reboot)
    }

    /// `<on_crash>`.
    pub fn on_crash(&self) -> Option<String> {
        self.lifecycle(LifecycleEvent::Crash)
    }

    /// Sets or removes `<on_poweroff>`.
    pub fn set_on_poweroff(&mut self, action: Option<&str>) {
        self.set_lifecycle(LifecycleEvent::Poweroff, action);
    }

    /// Sets or removes `<on_reboot>`.
    pub fn set_on_reboot(&mut self, action: Option<&str>) {
        self.set_lifecycle(LifecycleEvent::Reboot, action);
    }

    /// Sets or removes `<on_crash>`.
    pub fn set_on_crash(&mut self, action: Option<&str>) {
        self.set_lifecycle(LifecycleEvent::Crash, action);
    }

    // ----- sections -----

    /// `<os>`.
    pub fn os(&self) -> Option<Os<'_>> {
        self.root().child("os").map(Os::new)
    }

    /// Edits `<os>` (created on the first change).
    pub fn os_mut(&mut self) -> OsMut<'_> {
        OsMut::new(self.root_mut())
    }

    /// `<features>`.
    pub fn features(&self) -> Option<Features<'_>> {
        self.root().child("features").map(Features::new)
    }

    /// Edits `<features>` (created on the first change).
    pub fn features_mut(&mut self) -> FeaturesMut<'_> {
        FeaturesMut::new(self.root_mut())
    }

    /// `<cpu>`.
    pub fn cpu(&self) -> Option<Cpu<'_>> {
        self.root().child("cpu").map(Cpu::new)
    }

    /// Edits `<cpu>` (created on the first change).
    pub fn cpu_mut(&mut self) -> CpuMut<'_> {
        CpuMut::new(self.root_mut())
    }

    /// Removes `<cpu>` entirely.
    pub fn remove_cpu(&mut self) -> Option<Element> {
        self.root_mut().remove_child("cpu")
    }

    /// `<clock>`.
    pub fn clock(&self) -> Option<Clock<'_>> {
        self.root().child("clock").map(Clock::new)
    }

    /// Edits `<clock>` (created on the first change).
    pub fn clock_mut(&mut self) -> ClockMut<'_> {
        ClockMut::new(self.root_mut())
    }

    /// `<devices>` (empty when the domain has none).
    pub fn devices(&self) -> Devices<'_> {
        Devices::new(self.root().child("devices"))
    }

    /// Edits `<devices>` (created on the first addition).
    pub fn devices_mut(&mut self) -> DevicesMut<'_> {
        DevicesMut::new(self.root_mut())
    }

    // ----- metadata -----

    /// The element under `<metadata>` in namespace `uri` (libvirt keeps one per
    /// namespace), whatever its prefix.
    pub fn metadata(&self, uri: &str) -> Option<&Element> {
        self.root()
            .child("metadata")?
            .elements()
            .find(|e| e.namespace() == Some(uri))
    }

    /// Vireo's own metadata element, `<vireo:vireo xmlns:vireo="…">`.
    pub fn vireo_metadata(&self) -> Option<&Element> {
        self.metadata(VIREO_NS)
    }

    /// Vireo's metadata element, created (with `<metadata>`) when missing.
    pub fn vireo_metadata_mut(&mut self) -> &mut Element {
        self.root_mut()
            .ensure_child_ordered("metadata", DOMAIN_ORDER)
            .ensure_child_with(
                |e| e.namespace() == Some(VIREO_NS),
                || {
                    Element::new(format!("{VIREO_PREFIX}:{VIREO_PREFIX}"))
                        .with_attr(&format!("xmlns:{VIREO_PREFIX}"), VIREO_NS)
                },
            )
    }

    /// Removes Vireo's metadata element (and `<metadata>` if nothing else is in it).
    pub fn remove_vireo_metadata(&mut self) -> Option<Element> {
        let metadata = self.root_mut().child_mut("metadata")?;
        let i = metadata
            .elements()
            .position(|e| e.namespace() == Some(VIREO_NS))?;
        let removed = metadata.remove_element_at(i);
        if util::is_bare(metadata) {
            self.root_mut().remove_child("metadata");
        }
        removed
    }

    /// A value stored by Vireo: the text of `<vireo:KEY>` in Vireo's metadata.
    pub fn vireo_value(&self, key: &str) -> Option<String> {
        let el = self.vireo_metadata()?;
        el.elements()
            .find(|e| e.namespace() == Some(VIREO_NS) && e.local_name() == key)
            .map(|e| e.text().into_owned())
    }

    /// Stores (or with `None` removes) a value in Vireo's metadata as `<vireo:KEY>`.
    pub fn set_vireo_value(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => {
                let el = self.vireo_metadata_mut();
                let prefix = el.prefix().unwrap_or(VIREO_PREFIX).to_string();
                let name = format!("{prefix}:{key}");
                el.ensure_child(&name).set_text(v);
            }
            None => {
                let Some(el) = self
                    .root_mut()
                    .child_mut("metadata")
                    .and_then(|m| m.elements_mut().find(|e| e.namespace() == Some(VIREO_NS)))
                else {
                    return;
                };
                el.retain_elements(|e| !(e.namespace() == Some(VIREO_NS) && e.local_name() == key));
                if util::is_bare_except_ns(el) {
                    self.remove_vireo_metadata();
                }
            }
        }
    }

    /// `qemu:commandline`, found by namespace whatever its prefix.
    pub fn qemu_commandline(&self) -> Option<&Element> {
        self.root().child_ns(QEMU_NS, "commandline")
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.doc, f)
    }
}

impl std::str::FromStr for Domain {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Domain, DomainError> {
        Domain::parse(s)
    }
}
