//! `<features>`: ACPI, APIC, Hyper-V enlightenments, KVM hiding, SMM, VMware port.

use std::borrow::Cow;

use super::util::{bool_attr, is_bare, num_attr, on_off};
use super::{DOMAIN_ORDER, DomainError};
use crate::xml::Element;

/// The order in which libvirt writes the children of `<features>`.
pub const FEATURES_ORDER: &[&str] = &[
    "acpi",
    "apic",
    "pae",
    "hap",
    "viridian",
    "privnet",
    "hyperv",
    "kvm",
    "pvspinlock",
    "capabilities",
    "pmu",
    "vmport",
    "gic",
    "smm",
    "ioapic",
    "hpt",
    "vmcoreinfo",
    "htm",
    "nested-hv",
    "msrs",
    "ccf-assist",
    "xen",
    "cfpc",
    "sbbc",
    "ibs",
    "tcg",
    "async-teardown",
    "ras",
    "ps2",
    "aia",
];

/// The order in which libvirt writes the Hyper-V enlightenments.
pub const HYPERV_ORDER: &[&str] = &[
    "relaxed",
    "vapic",
    "spinlocks",
    "vpindex",
    "runtime",
    "synic",
    "stimer",
    "reset",
    "vendor_id",
    "frequencies",
    "reenlightenment",
    "tlbflush",
    "ipi",
    "evmcs",
    "avic",
    "emsr_bitmap",
    "xmm_input",
];

const KVM_ORDER: &[&str] = &[
    "hidden",
    "hint-dedicated",
    "poll-control",
    "pv-ipi",
    "dirty-ring",
];

/// The on/off state of a feature element: `state=` when present, else "on" (the
/// element's presence enables it).
fn element_state(el: &Element) -> Result<bool, DomainError> {
    Ok(bool_attr(el, "state")?.unwrap_or(true))
}

/// A read view of `<features>`.
#[derive(Debug, Clone, Copy)]
pub struct Features<'a> {
    el: &'a Element,
}

impl<'a> Features<'a> {
    pub(crate) fn new(el: &'a Element) -> Features<'a> {
        Features { el }
    }

    /// The `<features>` element.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// True when the feature element is present.
    pub fn has(&self, name: &str) -> bool {
        self.el.child(name).is_some()
    }

    /// The state of a feature: `None` when absent, else its `state=` (present without
    /// `state=` means on).
    pub fn state(&self, name: &str) -> Result<Option<bool>, DomainError> {
        self.el.child(name).map(element_state).transpose()
    }

    /// `<acpi/>`.
    pub fn acpi(&self) -> bool {
        self.has("acpi")
    }

    /// `<apic/>`.
    pub fn apic(&self) -> bool {
        self.has("apic")
    }

    /// `<pae/>`.
    pub fn pae(&self) -> bool {
        self.has("pae")
    }

    /// `<smm state=>`.
    pub fn smm(&self) -> Result<Option<bool>, DomainError> {
        self.state("smm")
    }

    /// `<vmport state=>`.
    pub fn vmport(&self) -> Result<Option<bool>, DomainError> {
        self.state("vmport")
    }

    /// `<pmu state=>`.
    pub fn pmu(&self) -> Result<Option<bool>, DomainError> {
        self.state("pmu")
    }

    /// `<kvm><hidden state=>`: hide the KVM signature from the guest.
    pub fn kvm_hidden(&self) -> Result<Option<bool>, DomainError> {
        self.el.find("kvm/hidden").map(element_state).transpose()
    }

    /// `<hyperv>`.
    pub fn hyperv(&self) -> Option<Hyperv<'a>> {
        self.el.child("hyperv").map(|el| Hyperv { el })
    }
}

/// A read view of `<hyperv>`.
#[derive(Debug, Clone, Copy)]
pub struct Hyperv<'a> {
    el: &'a Element,
}

impl<'a> Hyperv<'a> {
    /// The `<hyperv>` element.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// `mode=` (`custom`, `passthrough`).
    pub fn mode(&self) -> Option<Cow<'a, str>> {
        self.el.attr("mode")
    }

    /// The state of an enlightenment (`relaxed`, `vapic`, …); `None` when absent.
    pub fn feature(&self, name: &str) -> Result<Option<bool>, DomainError> {
        self.el.child(name).map(element_state).transpose()
    }

    /// All enlightenments present, with their states.
    pub fn features(&self) -> Result<Vec<(String, bool)>, DomainError> {
        self.el
            .elements()
            .map(|e| Ok((e.name().to_string(), element_state(e)?)))
            .collect()
    }

    /// `<spinlocks retries=>`.
    pub fn spinlocks_retries(&self) -> Result<Option<u32>, DomainError> {
        match self.el.child("spinlocks") {
            Some(s) => num_attr(s, "retries"),
            None => Ok(None),
        }
    }

    /// `<vendor_id value=>`.
    pub fn vendor_id(&self) -> Option<Cow<'a, str>> {
        self.el.child("vendor_id")?.attr("value")
    }
}

/// Edits `<features>`, creating it on the first change.
#[derive(Debug)]
pub struct FeaturesMut<'a> {
    root: &'a mut Element,
}

impl<'a> FeaturesMut<'a> {
    pub(crate) fn new(root: &'a mut Element) -> FeaturesMut<'a> {
        FeaturesMut { root }
    }

    /// The `<features>` element (created when missing).
    pub fn element(&mut self) -> &mut Element {
        self.root.ensure_child_ordered("features", DOMAIN_ORDER)
    }

    fn existing(&mut self) -> Option<&mut Element> {
        self.root.child_mut("features")
    }

    /// Adds (`true`) or removes (`false`) a presence-only feature such as `<acpi/>`.
    pub fn set_flag(&mut self, name: &str, present: bool) {
        if present {
            self.element().ensure_child_ordered(name, FEATURES_ORDER);
        } else if let Some(f) = self.existing() {
            f.remove_children(name);
        }
    }

    /// Sets a feature's `state=` (`on`/`off`), or removes the feature with `None`.
    pub fn set_state(&mut self, name: &str, state: Option<bool>) {
        match state {
            Some(on) => {
                ensure_state(self.element(), name, FEATURES_ORDER, on);
            }
            None => {
                if let Some(f) = self.existing() {
                    f.remove_children(name);
                }
            }
        }
    }

    /// Removes a feature element.
    pub fn remove(&mut self, name: &str) -> Option<Element> {
        self.existing()?.remove_child(name)
    }

    /// `<acpi/>`.
    pub fn set_acpi(&mut self, on: bool) {
        self.set_flag("acpi", on);
    }

    /// `<apic/>`.
    pub fn set_apic(&mut self, on: bool) {
        self.set_flag("apic", on);
    }

    /// `<smm state=>`.
    pub fn set_smm(&mut self, state: Option<bool>) {
        self.set_state("smm", state);
    }

    /// `<vmport state=>`.
    pub fn set_vmport(&mut self, state: Option<bool>) {
        self.set_state("vmport", state);
    }

    /// `<pmu state=>`.
    pub fn set_pmu(&mut self, state: Option<bool>) {
        self.set_state("pmu", state);
    }

    /// `<kvm><hidden state=>`; `None` removes it (and `<kvm>` when left empty).
    pub fn set_kvm_hidden(&mut self, hidden: Option<bool>) {
        match hidden {
            Some(on) => {
                let kvm = self.element().ensure_child_ordered("kvm", FEATURES_ORDER);
                ensure_state(kvm, "hidden", KVM_ORDER, on);
            }
            None => {
                let Some(f) = self.existing() else { return };
                let Some(kvm) = f.child_mut("kvm") else {
                    return;
                };
                kvm.remove_children("hidden");
                if is_bare(kvm) {
                    f.remove_child("kvm");
                }
            }
        }
    }

    fn hyperv(&mut self) -> &mut Element {
        self.element()
            .ensure_child_ordered("hyperv", FEATURES_ORDER)
    }

    fn existing_hyperv(&mut self) -> Option<&mut Element> {
        self.existing()?.child_mut("hyperv")
    }

    /// Sets or removes `<hyperv mode=>`.
    pub fn set_hyperv_mode(&mut self, mode: Option<&str>) {
        match mode {
            Some(m) => self.hyperv().set_attr("mode", m),
            None => {
                if let Some(h) = self.existing_hyperv() {
                    h.remove_attr("mode");
                }
            }
        }
    }

    /// Sets an enlightenment's state (`relaxed`, `vapic`, `vpindex`, …), or removes it
    /// with `None`.
    pub fn set_hyperv_feature(&mut self, name: &str, state: Option<bool>) {
        match state {
            Some(on) => {
                ensure_state(self.hyperv(), name, HYPERV_ORDER, on);
            }
            None => {
                if let Some(h) = self.existing_hyperv() {
                    h.remove_children(name);
                }
            }
        }
    }

    /// `<spinlocks state="on" retries=N/>`, or removes it with `None`.
    pub fn set_hyperv_spinlocks(&mut self, retries: Option<u32>) {
        match retries {
            Some(n) => {
                let el = self
                    .hyperv()
                    .ensure_child_ordered("spinlocks", HYPERV_ORDER);
                el.set_attr("state", "on");
                el.set_attr("retries", &n.to_string());
            }
            None => self.set_hyperv_feature("spinlocks", None),
        }
    }

    /// `<vendor_id state="on" value=…/>`, or removes it with `None`.
    pub fn set_hyperv_vendor_id(&mut self, value: Option<&str>) {
        match value {
            Some(v) => {
                let el = self
                    .hyperv()
                    .ensure_child_ordered("vendor_id", HYPERV_ORDER);
                el.set_attr("state", "on");
                el.set_attr("value", v);
            }
            None => self.set_hyperv_feature("vendor_id", None),
        }
    }

    /// Removes `<hyperv>` entirely.
    pub fn remove_hyperv(&mut self) -> Option<Element> {
        self.existing()?.remove_child("hyperv")
    }
}

/// The child `name` with the given state: created when missing (with `state=`), and
/// left as written when it already has that state (an existing element without
/// `state=` is on).
fn ensure_state<'e>(
    parent: &'e mut Element,
    name: &str,
    order: &[&str],
    on: bool,
) -> &'e mut Element {
    let existed = parent.child(name).is_some();
    let el = parent.ensure_child_ordered(name, order);
    let current = bool_attr(el, "state").ok().flatten();
    let unchanged = current == Some(on) || (existed && current.is_none() && on);
    if !unchanged {
        el.set_attr("state", on_off(on));
    }
    el
}
