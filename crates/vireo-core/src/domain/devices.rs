//! `<devices>`: typed read views, edit views and specs for new devices.
//!
//! Every view gives access to its element, so children the views do not know survive
//! edits untouched.

use std::borrow::Cow;
use std::fmt;

use super::util::{
    bool_attr, child_attr, is_bare, num_attr, parse_num, set_child_attr, set_flag_child, yes_no,
};
use super::{DOMAIN_ORDER, DomainError};
use crate::xml::Element;

/// The order in which libvirt writes the children of `<devices>`.
pub const DEVICES_ORDER: &[&str] = &[
    "emulator",
    "disk",
    "controller",
    "lease",
    "filesystem",
    "interface",
    "smartcard",
    "serial",
    "parallel",
    "console",
    "channel",
    "input",
    "tpm",
    "graphics",
    "sound",
    "audio",
    "video",
    "hostdev",
    "redirdev",
    "redirfilter",
    "hub",
    "watchdog",
    "memballoon",
    "rng",
    "panic",
    "shmem",
    "memory",
    "iommu",
    "vsock",
    "crypto",
    "pstore",
];

/// The order of the children of `<disk>`.
pub const DISK_ORDER: &[&str] = &[
    "driver",
    "source",
    "backingStore",
    "backenddomain",
    "geometry",
    "blockio",
    "target",
    "iotune",
    "mirror",
    "boot",
    "readonly",
    "shareable",
    "transient",
    "serial",
    "wwn",
    "vendor",
    "product",
    "encryption",
    "alias",
    "address",
];

/// The order of the children of `<interface>`.
pub const INTERFACE_ORDER: &[&str] = &[
    "mac",
    "source",
    "vlan",
    "virtualport",
    "ip",
    "route",
    "script",
    "backenddomain",
    "target",
    "guest",
    "model",
    "driver",
    "backend",
    "filterref",
    "tune",
    "teaming",
    "link",
    "mtu",
    "coalesce",
    "rom",
    "boot",
    "alias",
    "address",
    "acpi",
];

/// The order of the children of `<graphics>`.
pub const GRAPHICS_ORDER: &[&str] = &[
    "listen",
    "channel",
    "image",
    "streaming",
    "clipboard",
    "mouse",
    "filetransfer",
    "gl",
    "audio",
];

/// The order of the children of `<video>`.
pub const VIDEO_ORDER: &[&str] = &["model", "driver", "alias", "address"];

/// The order of the children of `<hostdev>`.
pub const HOSTDEV_ORDER: &[&str] = &["driver", "source", "boot", "rom", "alias", "address"];

const GENERIC_ORDER: &[&str] = &[
    "driver", "source", "backend", "target", "model", "boot", "alias", "address",
];

// ----- addresses -----

/// A device `<address>`: its `type` and all its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `pci`, `drive`, `usb`, `virtio-serial`, `ccw`, …
    pub kind: Option<String>,
    /// All attributes in document order, `type` included.
    pub attrs: Vec<(String, String)>,
}

impl Address {
    fn from_element(el: &Element) -> Address {
        Address {
            kind: el.attr("type").map(Cow::into_owned),
            attrs: el
                .attributes()
                .iter()
                .map(|a| (a.name().to_string(), a.value().into_owned()))
                .collect(),
        }
    }

    /// One attribute.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The PCI address, for `type="pci"`.
    pub fn pci(&self) -> Result<Option<PciAddress>, DomainError> {
        if self.kind.as_deref() != Some("pci") {
            return Ok(None);
        }
        let get = |n: &str| self.get(n).unwrap_or("0");
        Ok(Some(PciAddress {
            domain: parse_num(get("domain"), "PCI domain")?,
            bus: parse_num(get("bus"), "PCI bus")?,
            slot: parse_num(get("slot"), "PCI slot")?,
            function: parse_num(get("function"), "PCI function")?,
        }))
    }
}

/// A PCI address (`0000:01:00.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciAddress {
    pub domain: u16,
    pub bus: u8,
    pub slot: u8,
    pub function: u8,
}

impl PciAddress {
    /// Reads the `domain= bus= slot= function=` attributes of an `<address>`.
    pub fn from_element(el: &Element) -> Result<PciAddress, DomainError> {
        let get = |n: &str| el.attr(n).unwrap_or(Cow::Borrowed("0"));
        Ok(PciAddress {
            domain: parse_num(&get("domain"), "PCI domain")?,
            bus: parse_num(&get("bus"), "PCI bus")?,
            slot: parse_num(&get("slot"), "PCI slot")?,
            function: parse_num(&get("function"), "PCI function")?,
        })
    }

    /// Writes the address as libvirt does (`domain="0x0000" bus="0x01" …`).
    pub fn apply_to(&self, el: &mut Element) {
        el.set_attr("domain", &format!("0x{:04x}", self.domain));
        el.set_attr("bus", &format!("0x{:02x}", self.bus));
        el.set_attr("slot", &format!("0x{:02x}", self.slot));
        el.set_attr("function", &format!("0x{:x}", self.function));
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

/// A disk's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskSource {
    /// `type="file"`, `<source file=>`.
    File(String),
    /// `type="block"`, `<source dev=>`.
    Block(String),
    /// `type="dir"`, `<source dir=>`.
    Dir(String),
    /// `type="volume"`, `<source pool= volume=>`.
    Volume { pool: String, volume: String },
    /// `type="network"`, `<source protocol= name=>`.
    Network { protocol: String, name: String },
}

impl DiskSource {
    /// The disk `type=` that goes with this source.
    pub fn disk_type(&self) -> &'static str {
        match self {
            DiskSource::File(_) => "file",
            DiskSource::Block(_) => "block",
            DiskSource::Dir(_) => "dir",
            DiskSource::Volume { .. } => "volume",
            DiskSource::Network { .. } => "network",
        }
    }

    fn attrs(&self) -> Vec<(&'static str, &str)> {
        match self {
            DiskSource::File(p) => vec![("file", p)],
            DiskSource::Block(p) => vec![("dev", p)],
            DiskSource::Dir(p) => vec![("dir", p)],
            DiskSource::Volume { pool, volume } => vec![("pool", pool), ("volume", volume)],
            DiskSource::Network { protocol, name } => vec![("protocol", protocol), ("name", name)],
        }
    }
}

const SOURCE_KEYS: &[&str] = &["file", "dev", "dir", "pool", "volume", "protocol", "name"];

// ----- shared helpers -----

fn boot_order_of(el: &Element) -> Result<Option<u32>, DomainError> {
    match el.child("boot") {
        Some(b) => num_attr(b, "order"),
        None => Ok(None),
    }
}

fn set_boot_order_of(el: &mut Element, order: Option<u32>, child_order: &[&str]) {
    let v = order.map(|o| o.to_string());
    set_child_attr(el, "boot", child_order, "order", v.as_deref());
}

fn attr_owned(el: &Element, name: &str) -> Option<String> {
    el.attr(name).map(Cow::into_owned)
}

fn child_attr_owned(el: &Element, child: &str, name: &str) -> Option<String> {
    child_attr(el, child, name).map(Cow::into_owned)
}

/// A new device's element from its description.
pub trait DeviceSpec {
    /// Builds the element.
    fn to_element(&self) -> Element;
}

macro_rules! device_views {
    ($( $tag:literal => $ro:ident, $rw:ident, $plural:ident, $get_mut:ident; )*) => {
        $(
            #[doc = concat!("A read view of `<", $tag, ">`.")]
            #[derive(Debug, Clone, Copy)]
            pub struct $ro<'a> {
                el: &'a Element,
            }

            impl<'a> $ro<'a> {
                /// The element name.
                pub const TAG: &'static str = $tag;

                /// Wraps an element (its name is not checked).
                pub fn new(el: &'a Element) -> $ro<'a> {
                    $ro { el }
                }

                /// The device element.
                pub fn element(&self) -> &'a Element {
                    self.el
                }

                /// `<address>`.
                pub fn address(&self) -> Option<Address> {
                    self.el.child("address").map(Address::from_element)
                }

                /// `<alias name=>`.
                pub fn alias(&self) -> Option<String> {
                    child_attr_owned(self.el, "alias", "name")
                }
            }

            #[doc = concat!("Edits a `<", $tag, ">`.")]
            #[derive(Debug)]
            pub struct $rw<'a> {
                el: &'a mut Element,
            }

            impl<'a> $rw<'a> {
                /// Wraps an element (its name is not checked).
                pub fn new(el: &'a mut Element) -> $rw<'a> {
                    $rw { el }
                }

                /// The device element.
                pub fn element(&mut self) -> &mut Element {
                    self.el
                }

                /// A read view of the same device.
                pub fn view(&self) -> $ro<'_> {
                    $ro { el: self.el }
                }

                /// Removes `<address>` (libvirt assigns a new one).
                pub fn remove_address(&mut self) -> Option<Element> {
                    self.el.remove_child("address")
                }
            }
        )*

        impl<'a> Devices<'a> {
            $(
                #[doc = concat!("The `<", $tag, ">` devices.")]
                pub fn $plural(self) -> impl Iterator<Item = $ro<'a>> {
                    self.of($tag).map(|el| $ro { el })
                }
            )*
        }

        impl<'a> DevicesMut<'a> {
            $(
                #[doc = concat!("Edits the `<", $tag, ">` number `index`.")]
                pub fn $get_mut(&mut self, index: usize) -> Option<$rw<'_>> {
                    self.nth_mut($tag, index).map(|el| $rw { el })
                }
            )*
        }
    };
}

device_views! {
    "disk" => Disk, DiskMut, disks, disk_mut;
    "controller" => Controller, ControllerMut, controllers, controller_mut;
    "interface" => Interface, InterfaceMut, interfaces, interface_mut;
    "graphics" => Graphics, GraphicsMut, graphics, graphics_mut;
    "video" => Video, VideoMut, videos, video_mut;
    "input" => Input, InputMut, inputs, input_mut;
    "sound" => Sound, SoundMut, sounds, sound_mut;
    "hostdev" => Hostdev, HostdevMut, hostdevs, hostdev_mut;
    "tpm" => Tpm, TpmMut, tpms, tpm_mut;
    "filesystem" => Filesystem, FilesystemMut, filesystems, filesystem_mut;
    "channel" => Channel, ChannelMut, channels, channel_mut;
    "serial" => Serial, SerialMut, serials, serial_mut;
    "console" => Console, ConsoleMut, consoles, console_mut;
    "memballoon" => Memballoon, MemballoonMut, memballoons, memballoon_mut;
    "rng" => Rng, RngMut, rngs, rng_mut;
}

// ----- the container -----

/// A read view of `<devices>` (empty when the domain has none).
#[derive(Debug, Clone, Copy)]
pub struct Devices<'a> {
    el: Option<&'a Element>,
}

impl<'a> Devices<'a> {
    pub(crate) fn new(el: Option<&'a Element>) -> Devices<'a> {
        Devices { el }
    }

    /// The `<devices>` element.
    pub fn element(&self) -> Option<&'a Element> {
        self.el
    }

    /// `<emulator>`.
    pub fn emulator(&self) -> Option<String> {
        self.el?.child("emulator").and_then(Element::text_trimmed)
    }

    /// Every device element, in order.
    pub fn all(self) -> impl Iterator<Item = &'a Element> {
        self.el.into_iter().flat_map(|d| d.elements())
    }

    /// The device elements with this name.
    pub fn of(self, tag: &'a str) -> impl Iterator<Item = &'a Element> {
        self.el.into_iter().flat_map(move |d| d.children_named(tag))
    }

    /// The memory balloon (a domain has at most one).
    pub fn memballoon(self) -> Option<Memballoon<'a>> {
        self.memballoons().next()
    }
}

/// Edits `<devices>`, creating it on the first addition.
#[derive(Debug)]
pub struct DevicesMut<'a> {
    root: &'a mut Element,
}

impl<'a> DevicesMut<'a> {
    pub(crate) fn new(root: &'a mut Element) -> DevicesMut<'a> {
        DevicesMut { root }
    }

    /// The `<devices>` element (created when missing).
    pub fn element(&mut self) -> &mut Element {
        self.root.ensure_child_ordered("devices", DOMAIN_ORDER)
    }

    fn existing(&mut self) -> Option<&mut Element> {
        self.root.child_mut("devices")
    }

    /// Sets or removes `<emulator>`.
    pub fn set_emulator(&mut self, path: Option<&str>) {
        match path {
            Some(p) => self
                .element()
                .ensure_child_ordered("emulator", DEVICES_ORDER)
                .set_text(p),
            None => {
                if let Some(d) = self.existing() {
                    d.remove_child("emulator");
                }
            }
        }
    }

    /// Adds a device element after the last device of its kind (libvirt's order
    /// otherwise), indented like its siblings.
    pub fn add(&mut self, device: Element) -> &mut Element {
        self.element().insert_child_ordered(device, DEVICES_ORDER)
    }

    /// Adds a device built from a spec.
    pub fn add_spec(&mut self, spec: &impl DeviceSpec) -> &mut Element {
        self.add(spec.to_element())
    }

    /// The device element `tag` number `index`, mutable.
    pub fn nth_mut(&mut self, tag: &str, index: usize) -> Option<&mut Element> {
        self.existing()?
            .elements_mut()
            .filter(|e| e.name() == tag)
            .nth(index)
    }

    /// Removes the device `tag` number `index`.
    pub fn remove(&mut self, tag: &str, index: usize) -> Option<Element> {
        let devices = self.existing()?;
        let i = devices
            .elements()
            .enumerate()
            .filter(|(_, e)| e.name() == tag)
            .nth(index)?
            .0;
        devices.remove_element_at(i)
    }

    /// Keeps only the `tag` devices for which `keep` is true; gives the number
    /// removed.
    pub fn retain(&mut self, tag: &str, mut keep: impl FnMut(&Element) -> bool) -> usize {
        match self.existing() {
            Some(d) => d.retain_elements(|e| e.name() != tag || keep(e)),
            None => 0,
        }
    }

    /// Adds a disk.
    pub fn add_disk(&mut self, spec: &DiskSpec) -> DiskMut<'_> {
        DiskMut::new(self.add_spec(spec))
    }

    /// Adds a controller.
    pub fn add_controller(&mut self, spec: &ControllerSpec) -> ControllerMut<'_> {
        ControllerMut::new(self.add_spec(spec))
    }

    /// Adds a network interface.
    pub fn add_interface(&mut self, spec: &InterfaceSpec) -> InterfaceMut<'_> {
        InterfaceMut::new(self.add_spec(spec))
    }

    /// Adds a graphics device.
    pub fn add_graphics(&mut self, spec: &GraphicsSpec) -> GraphicsMut<'_> {
        GraphicsMut::new(self.add_spec(spec))
    }

    /// Adds a video device.
    pub fn add_video(&mut self, spec: &VideoSpec) -> VideoMut<'_> {
        VideoMut::new(self.add_spec(spec))
    }

    /// Adds an input device.
    pub fn add_input(&mut self, spec: &InputSpec) -> InputMut<'_> {
        InputMut::new(self.add_spec(spec))
    }

    /// Adds a sound device.
    pub fn add_sound(&mut self, spec: &SoundSpec) -> SoundMut<'_> {
        SoundMut::new(self.add_spec(spec))
    }

    /// Adds a host device.
    pub fn add_hostdev(&mut self, spec: &HostdevSpec) -> HostdevMut<'_> {
        HostdevMut::new(self.add_spec(spec))
    }

    /// Adds a TPM.
    pub fn add_tpm(&mut self, spec: &TpmSpec) -> TpmMut<'_> {
        TpmMut::new(self.add_spec(spec))
    }

    /// Adds a shared folder.
    pub fn add_filesystem(&mut self, spec: &FilesystemSpec) -> FilesystemMut<'_> {
        FilesystemMut::new(self.add_spec(spec))
    }

    /// Adds a channel.
    pub fn add_channel(&mut self, spec: &ChannelSpec) -> ChannelMut<'_> {
        ChannelMut::new(self.add_spec(spec))
    }

    /// Adds a serial port.
    pub fn add_serial(&mut self, spec: &SerialSpec) -> SerialMut<'_> {
        SerialMut::new(self.add_spec(spec))
    }

    /// Adds a random number generator.
    pub fn add_rng(&mut self, spec: &RngSpec) -> RngMut<'_> {
        RngMut::new(self.add_spec(spec))
    }

    /// Sets the memory balloon model (`virtio`, `none`), replacing the model of an
    /// existing balloon or adding one.
    pub fn set_memballoon(&mut self, model: &str) -> MemballoonMut<'_> {
        let has = self.nth_mut("memballoon", 0).is_some();
        if !has {
            self.add(Element::new("memballoon").with_attr("model", model));
        }
        let el = self
            .element()
            .ensure_child_ordered("memballoon", DEVICES_ORDER);
        el.set_attr("model", model);
        MemballoonMut::new(el)
    }
}

// ----- disk -----

impl<'a> Disk<'a> {
    /// `type=` (`file`, `block`, `volume`, `network`, `dir`).
    pub fn disk_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `device=` (`disk`, `cdrom`, `floppy`, `lun`; `disk` when absent).
    pub fn device(&self) -> Cow<'a, str> {
        self.el.attr("device").unwrap_or(Cow::Borrowed("disk"))
    }

    /// `<driver name=>`.
    pub fn driver_name(&self) -> Option<String> {
        child_attr_owned(self.el, "driver", "name")
    }

    /// `<driver type=>` (image format: `raw`, `qcow2`, …).
    pub fn driver_type(&self) -> Option<String> {
        child_attr_owned(self.el, "driver", "type")
    }

    /// `<driver cache=>`.
    pub fn cache(&self) -> Option<String> {
        child_attr_owned(self.el, "driver", "cache")
    }

    /// `<driver discard=>`.
    pub fn discard(&self) -> Option<String> {
        child_attr_owned(self.el, "driver", "discard")
    }

    /// The source, by the disk's `type=`.
    pub fn source(&self) -> Option<DiskSource> {
        let s = self.el.child("source")?;
        let get = |n: &str| attr_owned(s, n);
        match self.disk_type().as_deref() {
            Some("block") => get("dev").map(DiskSource::Block),
            Some("dir") => get("dir").map(DiskSource::Dir),
            Some("volume") => Some(DiskSource::Volume {
                pool: get("pool")?,
                volume: get("volume")?,
            }),
            Some("network") => Some(DiskSource::Network {
                protocol: get("protocol")?,
                name: get("name").unwrap_or_default(),
            }),
            _ => get("file").map(DiskSource::File),
        }
    }

    /// The file or device path of a `file` or `block` disk.
    pub fn source_path(&self) -> Option<String> {
        match self.source()? {
            DiskSource::File(p) | DiskSource::Block(p) | DiskSource::Dir(p) => Some(p),
            _ => None,
        }
    }

    /// `<target dev=>` (`vda`, `sda`, `hdc`).
    pub fn target_dev(&self) -> Option<String> {
        child_attr_owned(self.el, "target", "dev")
    }

    /// `<target bus=>` (`virtio`, `sata`, `scsi`, `ide`, `usb`).
    pub fn target_bus(&self) -> Option<String> {
        child_attr_owned(self.el, "target", "bus")
    }

    /// `<readonly/>`.
    pub fn readonly(&self) -> bool {
        self.el.child("readonly").is_some()
    }

    /// `<shareable/>`.
    pub fn shareable(&self) -> bool {
        self.el.child("shareable").is_some()
    }

    /// `<boot order=>`.
    pub fn boot_order(&self) -> Result<Option<u32>, DomainError> {
        boot_order_of(self.el)
    }

    /// `<serial>`.
    pub fn serial(&self) -> Option<String> {
        self.el.child("serial").and_then(Element::text_trimmed)
    }
}

impl DiskMut<'_> {
    fn driver_attr(&mut self, attr: &str, value: Option<&str>) {
        set_child_attr(self.el, "driver", DISK_ORDER, attr, value);
    }

    /// Sets `device=`.
    pub fn set_device(&mut self, device: &str) {
        self.el.set_attr("device", device);
    }

    /// Sets or removes `<driver name=>`.
    pub fn set_driver_name(&mut self, name: Option<&str>) {
        self.driver_attr("name", name);
    }

    /// Sets or removes `<driver type=>`.
    pub fn set_driver_type(&mut self, format: Option<&str>) {
        self.driver_attr("type", format);
    }

    /// Sets or removes `<driver cache=>`.
    pub fn set_cache(&mut self, cache: Option<&str>) {
        self.driver_attr("cache", cache);
    }

    /// Sets or removes `<driver discard=>`.
    pub fn set_discard(&mut self, discard: Option<&str>) {
        self.driver_attr("discard", discard);
    }

    /// Sets the source (and the disk `type=` that goes with it), keeping the source's
    /// other attributes and children; `None` empties the drive (removes `<source>`).
    pub fn set_source(&mut self, source: Option<&DiskSource>) {
        let Some(src) = source else {
            self.el.remove_child("source");
            return;
        };
        self.el.set_attr("type", src.disk_type());
        let s = self.el.ensure_child_ordered("source", DISK_ORDER);
        let wanted = src.attrs();
        for key in SOURCE_KEYS {
            if !wanted.iter().any(|(k, _)| k == key) {
                s.remove_attr(key);
            }
        }
        for (k, v) in wanted {
            s.set_attr(k, v);
        }
    }

    /// Sets `<target dev=>`.
    pub fn set_target_dev(&mut self, dev: &str) {
        set_child_attr(self.el, "target", DISK_ORDER, "dev", Some(dev));
    }

    /// Sets or removes `<target bus=>`. When the bus changes, `<address>` (which
    /// belongs to the old bus) is removed for libvirt to assign a new one.
    pub fn set_target_bus(&mut self, bus: Option<&str>) {
        let old = child_attr_owned(self.el, "target", "bus");
        if old.as_deref() == bus {
            return;
        }
        set_child_attr(self.el, "target", DISK_ORDER, "bus", bus);
        self.el.remove_child("address");
    }

    /// Adds or removes `<readonly/>`.
    pub fn set_readonly(&mut self, readonly: bool) {
        set_flag_child(self.el, "readonly", DISK_ORDER, readonly);
    }

    /// Adds or removes `<shareable/>`.
    pub fn set_shareable(&mut self, shareable: bool) {
        set_flag_child(self.el, "shareable", DISK_ORDER, shareable);
    }

    /// Sets or removes `<boot order=>`.
    pub fn set_boot_order(&mut self, order: Option<u32>) {
        set_boot_order_of(self.el, order, DISK_ORDER);
    }
}

/// A new disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpec {
    /// `disk`, `cdrom`, `floppy`, `lun`.
    pub device: String,
    /// `None` for an empty CD-ROM drive (`type="file"` without `<source>`).
    pub source: Option<DiskSource>,
    pub driver_name: Option<String>,
    pub driver_type: Option<String>,
    pub cache: Option<String>,
    pub discard: Option<String>,
    pub target_dev: String,
    pub target_bus: Option<String>,
    pub readonly: bool,
    pub boot_order: Option<u32>,
}

impl DiskSpec {
    /// A disk image file with the `qemu` driver.
    pub fn file(path: &str, format: &str, target_dev: &str, bus: &str) -> DiskSpec {
        DiskSpec {
            device: "disk".to_string(),
            source: Some(DiskSource::File(path.to_string())),
            driver_name: Some("qemu".to_string()),
            driver_type: Some(format.to_string()),
            cache: None,
            discard: None,
            target_dev: target_dev.to_string(),
            target_bus: Some(bus.to_string()),
            readonly: false,
            boot_order: None,
        }
    }

    /// A CD-ROM drive, with an ISO image or empty.
    pub fn cdrom(iso: Option<&str>, target_dev: &str, bus: &str) -> DiskSpec {
        DiskSpec {
            device: "cdrom".to_string(),
            source: iso.map(|p| DiskSource::File(p.to_string())),
            driver_name: Some("qemu".to_string()),
            driver_type: Some("raw".to_string()),
            cache: None,
            discard: None,
            target_dev: target_dev.to_string(),
            target_bus: Some(bus.to_string()),
            readonly: true,
            boot_order: None,
        }
    }
}

impl DeviceSpec for DiskSpec {
    fn to_element(&self) -> Element {
        let disk_type = self.source.as_ref().map_or("file", DiskSource::disk_type);
        let mut el = Element::new("disk")
            .with_attr("type", disk_type)
            .with_attr("device", &self.device);
        let mut driver = Element::new("driver");
        for (k, v) in [
            ("name", &self.driver_name),
            ("type", &self.driver_type),
            ("cache", &self.cache),
            ("discard", &self.discard),
        ] {
            if let Some(v) = v {
                driver.set_attr(k, v);
            }
        }
        if !driver.attributes().is_empty() {
            el.append_child(driver);
        }
        if let Some(src) = &self.source {
            let mut s = Element::new("source");
            for (k, v) in src.attrs() {
                s.set_attr(k, v);
            }
            el.append_child(s);
        }
        let mut target = Element::new("target").with_attr("dev", &self.target_dev);
        if let Some(bus) = &self.target_bus {
            target.set_attr("bus", bus);
        }
        el.append_child(target);
        if self.readonly {
            el.append_child(Element::new("readonly"));
        }
        if let Some(o) = self.boot_order {
            el.append_child(Element::new("boot").with_attr("order", &o.to_string()));
        }
        el
    }
}

// ----- controller -----

impl<'a> Controller<'a> {
    /// `type=` (`usb`, `pci`, `sata`, `scsi`, `virtio-serial`, `ide`).
    pub fn controller_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `index=`.
    pub fn index(&self) -> Result<Option<u32>, DomainError> {
        num_attr(self.el, "index")
    }

    /// `model=`.
    pub fn model(&self) -> Option<Cow<'a, str>> {
        self.el.attr("model")
    }

    /// `ports=`.
    pub fn ports(&self) -> Result<Option<u32>, DomainError> {
        num_attr(self.el, "ports")
    }
}

impl ControllerMut<'_> {
    /// Sets or removes `model=`.
    pub fn set_model(&mut self, model: Option<&str>) {
        self.el.set_attr_opt("model", model);
    }

    /// Sets or removes `ports=`.
    pub fn set_ports(&mut self, ports: Option<u32>) {
        let v = ports.map(|p| p.to_string());
        self.el.set_attr_opt("ports", v.as_deref());
    }
}

/// A new controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerSpec {
    pub controller_type: String,
    pub index: Option<u32>,
    pub model: Option<String>,
    pub ports: Option<u32>,
}

impl DeviceSpec for ControllerSpec {
    fn to_element(&self) -> Element {
        let mut el = Element::new("controller").with_attr("type", &self.controller_type);
        if let Some(i) = self.index {
            el.set_attr("index", &i.to_string());
        }
        if let Some(m) = &self.model {
            el.set_attr("model", m);
        }
        if let Some(p) = self.ports {
            el.set_attr("ports", &p.to_string());
        }
        el
    }
}

// ----- interface -----

/// Where a network interface is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceSource {
    /// `type="network"`: a libvirt virtual network.
    Network(String),
    /// `type="bridge"`: a host bridge.
    Bridge(String),
    /// `type="direct"`: macvtap on a host device, with its mode (`bridge`, `vepa`, …).
    Direct { dev: String, mode: String },
    /// `type="user"`: user-mode networking (SLIRP / passt).
    User,
}

impl InterfaceSource {
    fn interface_type(&self) -> &'static str {
        match self {
            InterfaceSource::Network(_) => "network",
            InterfaceSource::Bridge(_) => "bridge",
            InterfaceSource::Direct { .. } => "direct",
            InterfaceSource::User => "user",
        }
    }

    fn attrs(&self) -> Vec<(&'static str, &str)> {
        match self {
            InterfaceSource::Network(n) => vec![("network", n)],
            InterfaceSource::Bridge(b) => vec![("bridge", b)],
            InterfaceSource::Direct { dev, mode } => vec![("dev", dev), ("mode", mode)],
            InterfaceSource::User => Vec::new(),
        }
    }
}

const IFACE_SOURCE_KEYS: &[&str] = &["network", "bridge", "dev", "mode", "portgroup"];

impl<'a> Interface<'a> {
    /// `type=` (`network`, `bridge`, `direct`, `user`, `hostdev`, …).
    pub fn interface_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `<mac address=>`.
    pub fn mac(&self) -> Option<String> {
        child_attr_owned(self.el, "mac", "address")
    }

    /// The source, by the interface's `type=`.
    pub fn source(&self) -> Option<InterfaceSource> {
        let get = |n: &str| child_attr_owned(self.el, "source", n);
        match self.interface_type().as_deref()? {
            "network" => get("network").map(InterfaceSource::Network),
            "bridge" => get("bridge").map(InterfaceSource::Bridge),
            "direct" => Some(InterfaceSource::Direct {
                dev: get("dev")?,
                mode: get("mode").unwrap_or_else(|| "vepa".to_string()),
            }),
            "user" => Some(InterfaceSource::User),
            _ => None,
        }
    }

    /// `<source network=>`.
    pub fn source_network(&self) -> Option<String> {
        child_attr_owned(self.el, "source", "network")
    }

    /// `<source bridge=>`.
    pub fn source_bridge(&self) -> Option<String> {
        child_attr_owned(self.el, "source", "bridge")
    }

    /// `<model type=>` (`virtio`, `e1000e`, `rtl8139`).
    pub fn model(&self) -> Option<String> {
        child_attr_owned(self.el, "model", "type")
    }

    /// `<link state=>`: `Some(true)` for up.
    pub fn link_up(&self) -> Option<bool> {
        child_attr(self.el, "link", "state").map(|s| s != "down")
    }

    /// `<target dev=>`.
    pub fn target_dev(&self) -> Option<String> {
        child_attr_owned(self.el, "target", "dev")
    }

    /// `<boot order=>`.
    pub fn boot_order(&self) -> Result<Option<u32>, DomainError> {
        boot_order_of(self.el)
    }
}

impl InterfaceMut<'_> {
    /// Sets or removes `<mac address=>`.
    pub fn set_mac(&mut self, mac: Option<&str>) {
        set_child_attr(self.el, "mac", INTERFACE_ORDER, "address", mac);
    }

    /// Connects the interface elsewhere: sets `type=` and the `<source>` attributes
    /// that go with it, keeping the source's other content.
    pub fn set_source(&mut self, source: &InterfaceSource) {
        self.el.set_attr("type", source.interface_type());
        let wanted = source.attrs();
        if wanted.is_empty() {
            if let Some(s) = self.el.child_mut("source") {
                for key in IFACE_SOURCE_KEYS {
                    s.remove_attr(key);
                }
                if is_bare(s) {
                    self.el.remove_child("source");
                }
            }
            return;
        }
        let s = self.el.ensure_child_ordered("source", INTERFACE_ORDER);
        for key in IFACE_SOURCE_KEYS {
            if !wanted.iter().any(|(k, _)| k == key) {
                s.remove_attr(key);
            }
        }
        for (k, v) in wanted {
            s.set_attr(k, v);
        }
    }

    /// Sets or removes `<model type=>`.
    pub fn set_model(&mut self, model: Option<&str>) {
        set_child_attr(self.el, "model", INTERFACE_ORDER, "type", model);
    }

    /// Sets the link state (`<link state="up|down">`), or removes it with `None`.
    pub fn set_link_up(&mut self, up: Option<bool>) {
        let v = up.map(|u| if u { "up" } else { "down" });
        set_child_attr(self.el, "link", INTERFACE_ORDER, "state", v);
    }

    /// Sets or removes `<boot order=>`.
    pub fn set_boot_order(&mut self, order: Option<u32>) {
        set_boot_order_of(self.el, order, INTERFACE_ORDER);
    }
}

/// A new network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceSpec {
    pub source: InterfaceSource,
    pub mac: Option<String>,
    pub model: Option<String>,
}

impl DeviceSpec for InterfaceSpec {
    fn to_element(&self) -> Element {
        let mut el = Element::new("interface").with_attr("type", self.source.interface_type());
        if let Some(mac) = &self.mac {
            el.append_child(Element::new("mac").with_attr("address", mac));
        }
        let attrs = self.source.attrs();
        if !attrs.is_empty() {
            let mut s = Element::new("source");
            for (k, v) in attrs {
                s.set_attr(k, v);
            }
            el.append_child(s);
        }
        if let Some(m) = &self.model {
            el.append_child(Element::new("model").with_attr("type", m));
        }
        el
    }
}

// ----- graphics -----

impl<'a> Graphics<'a> {
    /// `type=` (`vnc`, `spice`, `sdl`, `rdp`, `dbus`, `egl-headless`).
    pub fn graphics_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `port=` (`-1` for automatic).
    pub fn port(&self) -> Result<Option<i32>, DomainError> {
        num_attr(self.el, "port")
    }

    /// `autoport=`.
    pub fn autoport(&self) -> Result<Option<bool>, DomainError> {
        bool_attr(self.el, "autoport")
    }

    /// The listen address: `<listen type="address" address=>` or `listen=`.
    pub fn listen(&self) -> Option<String> {
        self.el
            .children_named("listen")
            .find(|l| l.attr("type").as_deref() == Some("address"))
            .and_then(|l| attr_owned(l, "address"))
            .or_else(|| attr_owned(self.el, "listen"))
    }

    /// `<listen type=>` of the first listen element (`address`, `network`, `socket`,
    /// `none`).
    pub fn listen_type(&self) -> Option<String> {
        child_attr_owned(self.el, "listen", "type")
    }

    /// `passwd=`.
    pub fn passwd(&self) -> Option<Cow<'a, str>> {
        self.el.attr("passwd")
    }

    /// `keymap=`.
    pub fn keymap(&self) -> Option<Cow<'a, str>> {
        self.el.attr("keymap")
    }
}

impl GraphicsMut<'_> {
    /// Sets or removes `port=`.
    pub fn set_port(&mut self, port: Option<i32>) {
        let v = port.map(|p| p.to_string());
        self.el.set_attr_opt("port", v.as_deref());
    }

    /// Sets or removes `autoport=`.
    pub fn set_autoport(&mut self, autoport: Option<bool>) {
        self.el.set_attr_opt("autoport", autoport.map(yes_no));
    }

    /// Sets the listen address (updating `listen=` and `<listen type="address">`
    /// where present, else adding `<listen type="address" address=…/>`), or removes
    /// both with `None`.
    pub fn set_listen(&mut self, address: Option<&str>) {
        let is_addr =
            |l: &Element| l.name() == "listen" && l.attr("type").as_deref() == Some("address");
        match address {
            Some(a) => {
                if self.el.has_attr("listen") {
                    self.el.set_attr("listen", a);
                }
                let has_child = self.el.elements().any(is_addr);
                if has_child || !self.el.has_attr("listen") {
                    let l = self.el.ensure_child_with(is_addr, || {
                        Element::new("listen").with_attr("type", "address")
                    });
                    l.set_attr("address", a);
                }
            }
            None => {
                self.el.remove_attr("listen");
                self.el.retain_elements(|l| !is_addr(l));
            }
        }
    }

    /// Sets or removes `passwd=`.
    pub fn set_passwd(&mut self, passwd: Option<&str>) {
        self.el.set_attr_opt("passwd", passwd);
    }
}

/// A new graphics device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphicsSpec {
    /// `vnc` or `spice`.
    pub graphics_type: String,
    /// `None` (or `Some(-1)`) with autoport.
    pub port: Option<i32>,
    pub listen: Option<String>,
    pub passwd: Option<String>,
}

impl DeviceSpec for GraphicsSpec {
    fn to_element(&self) -> Element {
        let mut el = Element::new("graphics").with_attr("type", &self.graphics_type);
        match self.port {
            Some(p) if p >= 0 => {
                el.set_attr("port", &p.to_string());
                el.set_attr("autoport", "no");
            }
            _ => {
                el.set_attr("port", "-1");
                el.set_attr("autoport", "yes");
            }
        }
        if let Some(p) = &self.passwd {
            el.set_attr("passwd", p);
        }
        if let Some(a) = &self.listen {
            el.append_child(
                Element::new("listen")
                    .with_attr("type", "address")
                    .with_attr("address", a),
            );
        }
        el
    }
}

// ----- video -----

impl Video<'_> {
    /// `<model type=>` (`virtio`, `qxl`, `vga`, `cirrus`, `bochs`, `ramfb`, `none`).
    pub fn model_type(&self) -> Option<String> {
        child_attr_owned(self.el, "model", "type")
    }

    /// `<model vram=>` in KiB.
    pub fn vram(&self) -> Result<Option<u32>, DomainError> {
        match self.el.child("model") {
            Some(m) => num_attr(m, "vram"),
            None => Ok(None),
        }
    }

    /// `<model heads=>`.
    pub fn heads(&self) -> Result<Option<u32>, DomainError> {
        match self.el.child("model") {
            Some(m) => num_attr(m, "heads"),
            None => Ok(None),
        }
    }

    /// `<model primary=>`.
    pub fn primary(&self) -> Result<Option<bool>, DomainError> {
        match self.el.child("model") {
            Some(m) => bool_attr(m, "primary"),
            None => Ok(None),
        }
    }

    /// `<model><acceleration accel3d=>`.
    pub fn accel3d(&self) -> Result<Option<bool>, DomainError> {
        match self.el.find("model/acceleration") {
            Some(a) => bool_attr(a, "accel3d"),
            None => Ok(None),
        }
    }
}

impl VideoMut<'_> {
    /// Sets the model type. Attributes that only QXL understands (`ram`, `vgamem`,
    /// `vram64`) are dropped when moving away from QXL.
    pub fn set_model_type(&mut self, model: &str) {
        let m = self.el.ensure_child_ordered("model", VIDEO_ORDER);
        let was = m.attr("type").map(Cow::into_owned);
        if was.as_deref() == Some(model) {
            return;
        }
        m.set_attr("type", model);
        if was.as_deref() == Some("qxl") {
            for a in ["ram", "vgamem", "vram64"] {
                m.remove_attr(a);
            }
        }
    }

    /// Sets or removes `<model vram=>` (KiB).
    pub fn set_vram(&mut self, vram: Option<u32>) {
        let v = vram.map(|x| x.to_string());
        set_child_attr(self.el, "model", VIDEO_ORDER, "vram", v.as_deref());
    }

    /// Sets or removes `<model heads=>`.
    pub fn set_heads(&mut self, heads: Option<u32>) {
        let v = heads.map(|x| x.to_string());
        set_child_attr(self.el, "model", VIDEO_ORDER, "heads", v.as_deref());
    }
}

/// A new video device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoSpec {
    pub model: String,
    pub vram: Option<u32>,
    pub heads: Option<u32>,
}

impl DeviceSpec for VideoSpec {
    fn to_element(&self) -> Element {
        let mut m = Element::new("model").with_attr("type", &self.model);
        if let Some(v) = self.vram {
            m.set_attr("vram", &v.to_string());
        }
        if let Some(h) = self.heads {
            m.set_attr("heads", &h.to_string());
        }
        Element::new("video").with_child(m)
    }
}

// ----- input -----

impl<'a> Input<'a> {
    /// `type=` (`tablet`, `mouse`, `keyboard`, `passthrough`, `evdev`).
    pub fn input_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `bus=` (`usb`, `ps2`, `virtio`).
    pub fn bus(&self) -> Option<Cow<'a, str>> {
        self.el.attr("bus")
    }
}

impl InputMut<'_> {
    /// Sets or removes `bus=`.
    pub fn set_bus(&mut self, bus: Option<&str>) {
        if self.el.attr("bus").as_deref() != bus {
            self.el.set_attr_opt("bus", bus);
            self.el.remove_child("address");
        }
    }
}

/// A new input device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSpec {
    pub input_type: String,
    pub bus: Option<String>,
}

impl DeviceSpec for InputSpec {
    fn to_element(&self) -> Element {
        let mut el = Element::new("input").with_attr("type", &self.input_type);
        if let Some(b) = &self.bus {
            el.set_attr("bus", b);
        }
        el
    }
}

// ----- sound -----

impl<'a> Sound<'a> {
    /// `model=` (`ich9`, `ich6`, `ac97`, `usb`, …).
    pub fn model(&self) -> Option<Cow<'a, str>> {
        self.el.attr("model")
    }
}

impl SoundMut<'_> {
    /// Sets `model=`.
    pub fn set_model(&mut self, model: &str) {
        if self.el.attr("model").as_deref() != Some(model) {
            self.el.set_attr("model", model);
            self.el.remove_child("address");
        }
    }
}

/// A new sound device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundSpec {
    pub model: String,
}

impl DeviceSpec for SoundSpec {
    fn to_element(&self) -> Element {
        Element::new("sound").with_attr("model", &self.model)
    }
}

// ----- hostdev -----

/// A USB host device, by vendor and product ID (and/or bus/device address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsbSource {
    pub vendor: Option<u16>,
    pub product: Option<u16>,
    pub bus: Option<u32>,
    pub device: Option<u32>,
}

impl<'a> Hostdev<'a> {
    /// `mode=` (`subsystem`, `capabilities`).
    pub fn mode(&self) -> Option<Cow<'a, str>> {
        self.el.attr("mode")
    }

    /// `type=` (`pci`, `usb`, `scsi`, `mdev`, …).
    pub fn hostdev_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `managed=`.
    pub fn managed(&self) -> Result<Option<bool>, DomainError> {
        bool_attr(self.el, "managed")
    }

    /// The host PCI address of a `type="pci"` device.
    pub fn pci_source(&self) -> Result<Option<PciAddress>, DomainError> {
        if self.hostdev_type().as_deref() != Some("pci") {
            return Ok(None);
        }
        match self.el.find("source/address") {
            Some(a) => PciAddress::from_element(a).map(Some),
            None => Ok(None),
        }
    }

    /// The source of a `type="usb"` device.
    pub fn usb_source(&self) -> Result<Option<UsbSource>, DomainError> {
        if self.hostdev_type().as_deref() != Some("usb") {
            return Ok(None);
        }
        let Some(s) = self.el.child("source") else {
            return Ok(None);
        };
        let id = |child: &str| match s.child(child) {
            Some(c) => num_attr::<u16>(c, "id"),
            None => Ok(None),
        };
        let (bus, device) = match s.child("address") {
            Some(a) => (num_attr(a, "bus")?, num_attr(a, "device")?),
            None => (None, None),
        };
        Ok(Some(UsbSource {
            vendor: id("vendor")?,
            product: id("product")?,
            bus,
            device,
        }))
    }

    /// `<driver name=>` (`vfio`).
    pub fn driver_name(&self) -> Option<String> {
        child_attr_owned(self.el, "driver", "name")
    }

    /// `<boot order=>`.
    pub fn boot_order(&self) -> Result<Option<u32>, DomainError> {
        boot_order_of(self.el)
    }
}

impl HostdevMut<'_> {
    /// Sets or removes `managed=`.
    pub fn set_managed(&mut self, managed: Option<bool>) {
        self.el.set_attr_opt("managed", managed.map(yes_no));
    }

    /// Sets the host PCI address of a PCI device.
    pub fn set_pci_source(&mut self, address: PciAddress) {
        let s = self.el.ensure_child_ordered("source", HOSTDEV_ORDER);
        address.apply_to(s.ensure_child("address"));
    }

    /// Sets or removes `<boot order=>`.
    pub fn set_boot_order(&mut self, order: Option<u32>) {
        set_boot_order_of(self.el, order, HOSTDEV_ORDER);
    }
}

/// A new host device (passed through, `managed="yes"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostdevSpec {
    /// A PCI function.
    Pci(PciAddress),
    /// A USB device by vendor and product ID.
    Usb { vendor: u16, product: u16 },
}

impl DeviceSpec for HostdevSpec {
    fn to_element(&self) -> Element {
        let (kind, source) = match self {
            HostdevSpec::Pci(addr) => {
                let mut a = Element::new("address");
                addr.apply_to(&mut a);
                ("pci", Element::new("source").with_child(a))
            }
            HostdevSpec::Usb { vendor, product } => (
                "usb",
                Element::new("source")
                    .with_child(Element::new("vendor").with_attr("id", &format!("0x{vendor:04x}")))
                    .with_child(
                        Element::new("product").with_attr("id", &format!("0x{product:04x}")),
                    ),
            ),
        };
        Element::new("hostdev")
            .with_attr("mode", "subsystem")
            .with_attr("type", kind)
            .with_attr("managed", "yes")
            .with_child(source)
    }
}

// ----- tpm -----

impl<'a> Tpm<'a> {
    /// `model=` (`tpm-crb`, `tpm-tis`, `tpm-spapr`).
    pub fn model(&self) -> Option<Cow<'a, str>> {
        self.el.attr("model")
    }

    /// `<backend type=>` (`emulator`, `passthrough`, `external`).
    pub fn backend_type(&self) -> Option<String> {
        child_attr_owned(self.el, "backend", "type")
    }

    /// `<backend version=>` (`1.2`, `2.0`).
    pub fn backend_version(&self) -> Option<String> {
        child_attr_owned(self.el, "backend", "version")
    }
}

impl TpmMut<'_> {
    /// Sets or removes `model=`.
    pub fn set_model(&mut self, model: Option<&str>) {
        self.el.set_attr_opt("model", model);
    }

    /// Sets or removes `<backend version=>`.
    pub fn set_backend_version(&mut self, version: Option<&str>) {
        set_child_attr(self.el, "backend", GENERIC_ORDER, "version", version);
    }
}

/// A new TPM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmSpec {
    /// `tpm-crb` or `tpm-tis`.
    pub model: Option<String>,
    /// `emulator` (swtpm) or `passthrough`.
    pub backend_type: String,
    /// `2.0` or `1.2`.
    pub version: Option<String>,
}

impl Default for TpmSpec {
    /// An emulated TPM 2.0 (`tpm-crb`), as Windows 11 needs.
    fn default() -> TpmSpec {
        TpmSpec {
            model: Some("tpm-crb".to_string()),
            backend_type: "emulator".to_string(),
            version: Some("2.0".to_string()),
        }
    }
}

impl DeviceSpec for TpmSpec {
    fn to_element(&self) -> Element {
        let mut el = Element::new("tpm");
        if let Some(m) = &self.model {
            el.set_attr("model", m);
        }
        let mut b = Element::new("backend").with_attr("type", &self.backend_type);
        if let Some(v) = &self.version {
            b.set_attr("version", v);
        }
        el.with_child(b)
    }
}

// ----- filesystem -----

impl<'a> Filesystem<'a> {
    /// `type=` (`mount`, …).
    pub fn fs_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `accessmode=`.
    pub fn accessmode(&self) -> Option<Cow<'a, str>> {
        self.el.attr("accessmode")
    }

    /// `<driver type=>` (`virtiofs`, `path`).
    pub fn driver_type(&self) -> Option<String> {
        child_attr_owned(self.el, "driver", "type")
    }

    /// `<source dir=>`.
    pub fn source_dir(&self) -> Option<String> {
        child_attr_owned(self.el, "source", "dir")
    }

    /// `<target dir=>`: the mount tag.
    pub fn target_dir(&self) -> Option<String> {
        child_attr_owned(self.el, "target", "dir")
    }

    /// `<readonly/>`.
    pub fn readonly(&self) -> bool {
        self.el.child("readonly").is_some()
    }
}

impl FilesystemMut<'_> {
    /// Sets `<source dir=>`.
    pub fn set_source_dir(&mut self, dir: &str) {
        set_child_attr(self.el, "source", GENERIC_ORDER, "dir", Some(dir));
    }

    /// Sets `<target dir=>` (the mount tag).
    pub fn set_target_dir(&mut self, tag: &str) {
        set_child_attr(self.el, "target", GENERIC_ORDER, "dir", Some(tag));
    }

    /// Adds or removes `<readonly/>`.
    pub fn set_readonly(&mut self, readonly: bool) {
        set_flag_child(
            self.el,
            "readonly",
            &["driver", "binary", "source", "target", "readonly"],
            readonly,
        );
    }
}

/// A new shared folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesystemSpec {
    pub source_dir: String,
    /// The mount tag.
    pub target: String,
    /// `Some("virtiofs")` for virtiofs (needs shared memory backing).
    pub driver_type: Option<String>,
    pub readonly: bool,
}

impl DeviceSpec for FilesystemSpec {
    fn to_element(&self) -> Element {
        let mut el = Element::new("filesystem")
            .with_attr("type", "mount")
            .with_attr("accessmode", "passthrough");
        if let Some(d) = &self.driver_type {
            el.append_child(Element::new("driver").with_attr("type", d));
        }
        el.append_child(Element::new("source").with_attr("dir", &self.source_dir));
        el.append_child(Element::new("target").with_attr("dir", &self.target));
        if self.readonly {
            el.append_child(Element::new("readonly"));
        }
        el
    }
}

// ----- channel, serial, console -----

impl<'a> Channel<'a> {
    /// `type=` (`unix`, `spicevmc`, `pty`, `qemu-vdagent`).
    pub fn channel_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `<target type=>` (`virtio`, `guestfwd`, `xen`).
    pub fn target_type(&self) -> Option<String> {
        child_attr_owned(self.el, "target", "type")
    }

    /// `<target name=>` (`org.qemu.guest_agent.0`, `com.redhat.spice.0`).
    pub fn target_name(&self) -> Option<String> {
        child_attr_owned(self.el, "target", "name")
    }
}

impl ChannelMut<'_> {
    /// Sets or removes `<target name=>`.
    pub fn set_target_name(&mut self, name: Option<&str>) {
        set_child_attr(self.el, "target", GENERIC_ORDER, "name", name);
    }
}

/// A new channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    pub channel_type: String,
    pub target_type: String,
    pub target_name: Option<String>,
}

impl ChannelSpec {
    /// The QEMU guest agent channel.
    pub fn guest_agent() -> ChannelSpec {
        ChannelSpec {
            channel_type: "unix".to_string(),
            target_type: "virtio".to_string(),
            target_name: Some("org.qemu.guest_agent.0".to_string()),
        }
    }

    /// The SPICE agent channel.
    pub fn spice_agent() -> ChannelSpec {
        ChannelSpec {
            channel_type: "spicevmc".to_string(),
            target_type: "virtio".to_string(),
            target_name: Some("com.redhat.spice.0".to_string()),
        }
    }
}

impl DeviceSpec for ChannelSpec {
    fn to_element(&self) -> Element {
        let mut t = Element::new("target").with_attr("type", &self.target_type);
        if let Some(n) = &self.target_name {
            t.set_attr("name", n);
        }
        Element::new("channel")
            .with_attr("type", &self.channel_type)
            .with_child(t)
    }
}

impl<'a> Serial<'a> {
    /// `type=` (`pty`, `file`, `tcp`, `unix`, …).
    pub fn serial_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `<target port=>`.
    pub fn target_port(&self) -> Result<Option<u32>, DomainError> {
        match self.el.child("target") {
            Some(t) => num_attr(t, "port"),
            None => Ok(None),
        }
    }

    /// `<target type=>` (`isa-serial`, `pci-serial`, `usb-serial`, …).
    pub fn target_type(&self) -> Option<String> {
        child_attr_owned(self.el, "target", "type")
    }
}

impl SerialMut<'_> {
    /// Sets `type=`.
    pub fn set_serial_type(&mut self, serial_type: &str) {
        self.el.set_attr("type", serial_type);
    }
}

/// A new serial port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialSpec {
    /// `pty` for a console the host can attach to.
    pub serial_type: String,
    pub target_port: Option<u32>,
}

impl DeviceSpec for SerialSpec {
    fn to_element(&self) -> Element {
        let mut el = Element::new("serial").with_attr("type", &self.serial_type);
        if let Some(p) = self.target_port {
            el.append_child(Element::new("target").with_attr("port", &p.to_string()));
        }
        el
    }
}

impl<'a> Console<'a> {
    /// `type=`.
    pub fn console_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `<target type=>` (`serial`, `virtio`).
    pub fn target_type(&self) -> Option<String> {
        child_attr_owned(self.el, "target", "type")
    }
}

// ----- memballoon, rng -----

impl<'a> Memballoon<'a> {
    /// `model=` (`virtio`, `none`).
    pub fn model(&self) -> Option<Cow<'a, str>> {
        self.el.attr("model")
    }
}

impl MemballoonMut<'_> {
    /// Sets `model=`.
    pub fn set_model(&mut self, model: &str) {
        if self.el.attr("model").as_deref() != Some(model) {
            self.el.set_attr("model", model);
            self.el.remove_child("address");
        }
    }
}

impl<'a> Rng<'a> {
    /// `model=` (`virtio`).
    pub fn model(&self) -> Option<Cow<'a, str>> {
        self.el.attr("model")
    }

    /// `<backend model=>` (`random`, `egd`, `builtin`).
    pub fn backend_model(&self) -> Option<String> {
        child_attr_owned(self.el, "backend", "model")
    }

    /// The backend's device path (`/dev/urandom`) for the `random` backend.
    pub fn backend_path(&self) -> Option<String> {
        self.el.child("backend").and_then(Element::text_trimmed)
    }
}

impl RngMut<'_> {
    /// Sets the `random` backend's device path.
    pub fn set_backend_path(&mut self, path: &str) {
        let b = self.el.ensure_child_ordered("backend", GENERIC_ORDER);
        if !b.has_attr("model") {
            b.set_attr("model", "random");
        }
        b.set_text(path);
    }
}

/// A new random number generator (virtio-rng).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RngSpec {
    /// The host source for the `random` backend, usually `/dev/urandom`.
    pub backend_path: String,
}

impl Default for RngSpec {
    fn default() -> RngSpec {
        RngSpec {
            backend_path: "/dev/urandom".to_string(),
        }
    }
}

impl DeviceSpec for RngSpec {
    fn to_element(&self) -> Element {
        Element::new("rng").with_attr("model", "virtio").with_child(
            Element::new("backend")
                .with_attr("model", "random")
                .with_text(&self.backend_path),
        )
    }
}
