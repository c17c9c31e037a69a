//! `<os>`: guest type, firmware, loader, NVRAM, boot order.

use std::borrow::Cow;

use super::util::{bool_attr, child_text, is_bare, num_attr, set_child_text, yes_no};
use super::{DOMAIN_ORDER, DomainError};
use crate::xml::Element;

/// The order in which libvirt writes the children of `<os>`.
pub const OS_ORDER: &[&str] = &[
    "type",
    "firmware",
    "init",
    "initarg",
    "initenv",
    "initdir",
    "inituser",
    "initgroup",
    "loader",
    "nvram",
    "varstore",
    "kernel",
    "initrd",
    "cmdline",
    "shim",
    "dtb",
    "acpi",
    "boot",
    "bootmenu",
    "bios",
    "smbios",
];

/// A `<firmware><feature enabled= name=/>` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareFeature {
    pub name: String,
    pub enabled: bool,
}

/// `<bootmenu enable= timeout=>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootMenu {
    pub enable: Option<bool>,
    /// Milliseconds.
    pub timeout: Option<u32>,
}

/// A read view of `<os>`.
#[derive(Debug, Clone, Copy)]
pub struct Os<'a> {
    el: &'a Element,
}

impl<'a> Os<'a> {
    pub(crate) fn new(el: &'a Element) -> Os<'a> {
        Os { el }
    }

    /// The `<os>` element.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// The guest type, the text of `<type>` (`hvm`, `linux`, `exe`, `xen`).
    pub fn os_type(&self) -> Option<String> {
        child_text(self.el, "type")
    }

    /// `<type arch=>`.
    pub fn arch(&self) -> Option<Cow<'a, str>> {
        self.el.child("type")?.attr("arch")
    }

    /// `<type machine=>`.
    pub fn machine(&self) -> Option<Cow<'a, str>> {
        self.el.child("type")?.attr("machine")
    }

    /// `<os firmware=>` (`efi` or `bios`): automatic firmware selection.
    pub fn firmware(&self) -> Option<Cow<'a, str>> {
        self.el.attr("firmware")
    }

    /// The `<firmware><feature>` requirements for automatic firmware selection.
    pub fn firmware_features(&self) -> Result<Vec<FirmwareFeature>, DomainError> {
        let Some(fw) = self.el.child("firmware") else {
            return Ok(Vec::new());
        };
        fw.children_named("feature")
            .map(|f| {
                Ok(FirmwareFeature {
                    name: f.attr("name").map(Cow::into_owned).unwrap_or_default(),
                    enabled: bool_attr(f, "enabled")?.unwrap_or(false),
                })
            })
            .collect()
    }

    /// `<loader>`.
    pub fn loader(&self) -> Option<Loader<'a>> {
        self.el.child("loader").map(|el| Loader { el })
    }

    /// `<nvram>`.
    pub fn nvram(&self) -> Option<Nvram<'a>> {
        self.el.child("nvram").map(|el| Nvram { el })
    }

    /// The `<boot dev=>` devices in order (`hd`, `cdrom`, `network`, `fd`).
    pub fn boot_devices(&self) -> Vec<String> {
        self.el
            .children_named("boot")
            .filter_map(|b| b.attr("dev").map(Cow::into_owned))
            .collect()
    }

    /// `<bootmenu>`.
    pub fn boot_menu(&self) -> Result<Option<BootMenu>, DomainError> {
        let Some(b) = self.el.child("bootmenu") else {
            return Ok(None);
        };
        Ok(Some(BootMenu {
            enable: bool_attr(b, "enable")?,
            timeout: num_attr(b, "timeout")?,
        }))
    }

    /// `<kernel>` (direct kernel boot).
    pub fn kernel(&self) -> Option<String> {
        child_text(self.el, "kernel")
    }

    /// `<initrd>`.
    pub fn initrd(&self) -> Option<String> {
        child_text(self.el, "initrd")
    }

    /// `<cmdline>`.
    pub fn cmdline(&self) -> Option<String> {
        child_text(self.el, "cmdline")
    }
}

/// A read view of `<loader>`.
#[derive(Debug, Clone, Copy)]
pub struct Loader<'a> {
    el: &'a Element,
}

impl<'a> Loader<'a> {
    /// The `<loader>` element.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// The firmware image path (the element's text).
    pub fn path(&self) -> Option<String> {
        self.el.text_trimmed()
    }

    /// `readonly=`.
    pub fn readonly(&self) -> Result<Option<bool>, DomainError> {
        bool_attr(self.el, "readonly")
    }

    /// `type=` (`rom` or `pflash`).
    pub fn loader_type(&self) -> Option<Cow<'a, str>> {
        self.el.attr("type")
    }

    /// `secure=` (Secure Boot).
    pub fn secure(&self) -> Result<Option<bool>, DomainError> {
        bool_attr(self.el, "secure")
    }

    /// `format=` (`raw`, `qcow2`).
    pub fn format(&self) -> Option<Cow<'a, str>> {
        self.el.attr("format")
    }
}

/// A read view of `<nvram>`.
#[derive(Debug, Clone, Copy)]
pub struct Nvram<'a> {
    el: &'a Element,
}

impl<'a> Nvram<'a> {
    /// The `<nvram>` element.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// The variable store path (the element's text).
    pub fn path(&self) -> Option<String> {
        self.el.text_trimmed()
    }

    /// `template=`: the file the store is created from.
    pub fn template(&self) -> Option<Cow<'a, str>> {
        self.el.attr("template")
    }

    /// `templateFormat=`.
    pub fn template_format(&self) -> Option<Cow<'a, str>> {
        self.el.attr("templateFormat")
    }

    /// `format=`.
    pub fn format(&self) -> Option<Cow<'a, str>> {
        self.el.attr("format")
    }
}

/// Edits `<os>`, creating it on the first change.
#[derive(Debug)]
pub struct OsMut<'a> {
    root: &'a mut Element,
}

impl<'a> OsMut<'a> {
    pub(crate) fn new(root: &'a mut Element) -> OsMut<'a> {
        OsMut { root }
    }

    /// The `<os>` element (created when missing).
    pub fn element(&mut self) -> &mut Element {
        self.root.ensure_child_ordered("os", DOMAIN_ORDER)
    }

    fn existing(&mut self) -> Option<&mut Element> {
        self.root.child_mut("os")
    }

    fn set_child_attr(&mut self, child: &str, attr: &str, value: Option<&str>) {
        match value {
            Some(_) => super::util::set_child_attr(self.element(), child, OS_ORDER, attr, value),
            None => {
                if let Some(os) = self.existing() {
                    super::util::set_child_attr(os, child, OS_ORDER, attr, None);
                }
            }
        }
    }

    /// Sets the guest type (`<type>hvm</type>`).
    pub fn set_os_type(&mut self, os_type: &str) {
        self.element()
            .ensure_child_ordered("type", OS_ORDER)
            .set_text(os_type);
    }

    /// Sets or removes `<type arch=>`.
    pub fn set_arch(&mut self, arch: Option<&str>) {
        self.set_type_attr("arch", arch);
    }

    /// Sets or removes `<type machine=>`.
    pub fn set_machine(&mut self, machine: Option<&str>) {
        self.set_type_attr("machine", machine);
    }

    fn set_type_attr(&mut self, attr: &str, value: Option<&str>) {
        match value {
            Some(v) => self
                .element()
                .ensure_child_ordered("type", OS_ORDER)
                .set_attr(attr, v),
            None => {
                if let Some(t) = self.existing().and_then(|os| os.child_mut("type")) {
                    t.remove_attr(attr);
                }
            }
        }
    }

    /// Sets or removes `<os firmware=>` (`efi`, `bios`).
    pub fn set_firmware(&mut self, firmware: Option<&str>) {
        match firmware {
            Some(f) => self.element().set_attr("firmware", f),
            None => {
                if let Some(os) = self.existing() {
                    os.remove_attr("firmware");
                }
            }
        }
    }

    /// Requires (`Some(true)`), forbids (`Some(false)`) or stops mentioning (`None`) a
    /// firmware feature such as `secure-boot` or `enrolled-keys`.
    pub fn set_firmware_feature(&mut self, name: &str, enabled: Option<bool>) {
        match enabled {
            Some(on) => {
                let fw = self.element().ensure_child_ordered("firmware", OS_ORDER);
                let feature = fw.ensure_child_with(
                    |f| f.name() == "feature" && f.attr("name").as_deref() == Some(name),
                    || Element::new("feature"),
                );
                feature.set_attr("enabled", yes_no(on));
                feature.set_attr("name", name);
            }
            None => {
                let Some(os) = self.existing() else { return };
                let Some(fw) = os.child_mut("firmware") else {
                    return;
                };
                fw.retain_elements(|f| {
                    !(f.name() == "feature" && f.attr("name").as_deref() == Some(name))
                });
                if is_bare(fw) {
                    os.remove_child("firmware");
                }
            }
        }
    }

    /// Sets or removes the loader path (`<loader>PATH</loader>`).
    pub fn set_loader_path(&mut self, path: Option<&str>) {
        match path {
            Some(p) => self
                .element()
                .ensure_child_ordered("loader", OS_ORDER)
                .set_text(p),
            None => {
                if let Some(os) = self.existing()
                    && let Some(l) = os.child_mut("loader")
                {
                    l.set_text("");
                    if is_bare(l) {
                        os.remove_child("loader");
                    }
                }
            }
        }
    }

    /// Sets or removes `<loader readonly=>`.
    pub fn set_loader_readonly(&mut self, readonly: Option<bool>) {
        self.set_child_attr("loader", "readonly", readonly.map(yes_no));
    }

    /// Sets or removes `<loader type=>` (`rom`, `pflash`).
    pub fn set_loader_type(&mut self, loader_type: Option<&str>) {
        self.set_child_attr("loader", "type", loader_type);
    }

    /// Sets or removes `<loader secure=>`.
    pub fn set_loader_secure(&mut self, secure: Option<bool>) {
        self.set_child_attr("loader", "secure", secure.map(yes_no));
    }

    /// Removes `<loader>`.
    pub fn remove_loader(&mut self) -> Option<Element> {
        self.existing()?.remove_child("loader")
    }

    /// Sets or removes the NVRAM path (`<nvram>PATH</nvram>`).
    pub fn set_nvram_path(&mut self, path: Option<&str>) {
        match path {
            Some(p) => self
                .element()
                .ensure_child_ordered("nvram", OS_ORDER)
                .set_text(p),
            None => {
                if let Some(os) = self.existing()
                    && let Some(n) = os.child_mut("nvram")
                {
                    n.set_text("");
                    if is_bare(n) {
                        os.remove_child("nvram");
                    }
                }
            }
        }
    }

    /// Sets or removes `<nvram template=>`.
    pub fn set_nvram_template(&mut self, template: Option<&str>) {
        self.set_child_attr("nvram", "template", template);
    }

    /// Removes `<nvram>`.
    pub fn remove_nvram(&mut self) -> Option<Element> {
        self.existing()?.remove_child("nvram")
    }

    /// Replaces the `<boot dev=>` list (an empty list removes them all; per-device
    /// `<boot order=>` is set on the devices instead).
    pub fn set_boot_devices(&mut self, devices: &[&str]) {
        if devices.is_empty() {
            if let Some(os) = self.existing() {
                os.remove_children("boot");
            }
            return;
        }
        let os = self.element();
        let current: Vec<String> = os
            .children_named("boot")
            .filter_map(|b| b.attr("dev").map(Cow::into_owned))
            .collect();
        if current
            .iter()
            .map(String::as_str)
            .eq(devices.iter().copied())
        {
            return;
        }
        os.remove_children("boot");
        for dev in devices {
            os.insert_child_ordered(Element::new("boot").with_attr("dev", dev), OS_ORDER);
        }
    }

    /// Sets or removes `<bootmenu>`; `None` for both removes the element.
    pub fn set_boot_menu(&mut self, enable: Option<bool>, timeout_ms: Option<u32>) {
        let timeout = timeout_ms.map(|t| t.to_string());
        self.set_child_attr("bootmenu", "enable", enable.map(yes_no));
        self.set_child_attr("bootmenu", "timeout", timeout.as_deref());
    }

    /// Sets or removes `<kernel>`.
    pub fn set_kernel(&mut self, path: Option<&str>) {
        self.set_text_child("kernel", path);
    }

    /// Sets or removes `<initrd>`.
    pub fn set_initrd(&mut self, path: Option<&str>) {
        self.set_text_child("initrd", path);
    }

    /// Sets or removes `<cmdline>`.
    pub fn set_cmdline(&mut self, cmdline: Option<&str>) {
        self.set_text_child("cmdline", cmdline);
    }

    fn set_text_child(&mut self, child: &str, value: Option<&str>) {
        match value {
            Some(_) => set_child_text(self.element(), child, OS_ORDER, value),
            None => {
                if let Some(os) = self.existing() {
                    os.remove_child(child);
                }
            }
        }
    }
}
