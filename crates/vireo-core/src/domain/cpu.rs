//! `<cpu>`: mode, model, topology, features.

use std::borrow::Cow;

use super::util::{bool_attr, is_bare, num_attr, on_off, set_child_attr};
use super::{DOMAIN_ORDER, DomainError};
use crate::xml::Element;

/// The order in which libvirt writes the children of `<cpu>`.
pub const CPU_ORDER: &[&str] = &[
    "model",
    "vendor",
    "microcode",
    "topology",
    "cache",
    "maxphysaddr",
    "feature",
    "numa",
];

/// `<model fallback= vendor_id=>NAME</model>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuModel {
    pub name: Option<String>,
    pub fallback: Option<String>,
    pub vendor_id: Option<String>,
}

/// `<topology>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topology {
    pub sockets: u32,
    pub dies: Option<u32>,
    pub clusters: Option<u32>,
    pub cores: u32,
    pub threads: u32,
}

impl Topology {
    /// The total number of logical CPUs.
    pub fn total(&self) -> u64 {
        [
            self.sockets,
            self.dies.unwrap_or(1),
            self.clusters.unwrap_or(1),
            self.cores,
            self.threads,
        ]
        .iter()
        .map(|&n| u64::from(n))
        .product()
    }
}

/// `<feature policy= name=>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFeature {
    pub name: String,
    /// `force`, `require`, `optional`, `disable`, `forbid`.
    pub policy: Option<String>,
}

/// A read view of `<cpu>`.
#[derive(Debug, Clone, Copy)]
pub struct Cpu<'a> {
    el: &'a Element,
}

impl<'a> Cpu<'a> {
    pub(crate) fn new(el: &'a Element) -> Cpu<'a> {
        Cpu { el }
    }

    /// The `<cpu>` element.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// `mode=` (`custom`, `host-model`, `host-passthrough`, `maximum`).
    pub fn mode(&self) -> Option<Cow<'a, str>> {
        self.el.attr("mode")
    }

    /// `match=` (`minimum`, `exact`, `strict`).
    pub fn match_(&self) -> Option<Cow<'a, str>> {
        self.el.attr("match")
    }

    /// `check=` (`none`, `partial`, `full`).
    pub fn check(&self) -> Option<Cow<'a, str>> {
        self.el.attr("check")
    }

    /// `migratable=` (`on`/`off`).
    pub fn migratable(&self) -> Result<Option<bool>, DomainError> {
        bool_attr(self.el, "migratable")
    }

    /// `<model>`.
    pub fn model(&self) -> Option<CpuModel> {
        self.el.child("model").map(|m| CpuModel {
            name: m.text_trimmed(),
            fallback: m.attr("fallback").map(Cow::into_owned),
            vendor_id: m.attr("vendor_id").map(Cow::into_owned),
        })
    }

    /// `<vendor>`.
    pub fn vendor(&self) -> Option<String> {
        self.el.child("vendor").and_then(Element::text_trimmed)
    }

    /// `<topology>`.
    pub fn topology(&self) -> Result<Option<Topology>, DomainError> {
        let Some(t) = self.el.child("topology") else {
            return Ok(None);
        };
        Ok(Some(Topology {
            sockets: num_attr(t, "sockets")?.unwrap_or(1),
            dies: num_attr(t, "dies")?,
            clusters: num_attr(t, "clusters")?,
            cores: num_attr(t, "cores")?.unwrap_or(1),
            threads: num_attr(t, "threads")?.unwrap_or(1),
        }))
    }

    /// The `<feature>` entries.
    pub fn features(&self) -> Vec<CpuFeature> {
        self.el
            .children_named("feature")
            .map(|f| CpuFeature {
                name: f.attr("name").map(Cow::into_owned).unwrap_or_default(),
                policy: f.attr("policy").map(Cow::into_owned),
            })
            .collect()
    }
}

/// Edits `<cpu>`, creating it on the first change.
#[derive(Debug)]
pub struct CpuMut<'a> {
    root: &'a mut Element,
}

impl<'a> CpuMut<'a> {
    pub(crate) fn new(root: &'a mut Element) -> CpuMut<'a> {
        CpuMut { root }
    }

    /// The `<cpu>` element (created when missing).
    pub fn element(&mut self) -> &mut Element {
        self.root.ensure_child_ordered("cpu", DOMAIN_ORDER)
    }

    fn existing(&mut self) -> Option<&mut Element> {
        self.root.child_mut("cpu")
    }

    fn set_own_attr(&mut self, attr: &str, value: Option<&str>) {
        match value {
            Some(v) => self.element().set_attr(attr, v),
            None => {
                if let Some(c) = self.existing() {
                    c.remove_attr(attr);
                }
            }
        }
    }

    /// Sets or removes `mode=`.
    pub fn set_mode(&mut self, mode: Option<&str>) {
        self.set_own_attr("mode", mode);
    }

    /// Sets or removes `match=`.
    pub fn set_match(&mut self, value: Option<&str>) {
        self.set_own_attr("match", value);
    }

    /// Sets or removes `check=`.
    pub fn set_check(&mut self, check: Option<&str>) {
        self.set_own_attr("check", check);
    }

    /// Sets or removes `migratable=`.
    pub fn set_migratable(&mut self, migratable: Option<bool>) {
        self.set_own_attr("migratable", migratable.map(on_off));
    }

    /// Sets or removes the model name (`<model>NAME</model>`).
    pub fn set_model(&mut self, name: Option<&str>) {
        match name {
            Some(n) => self
                .element()
                .ensure_child_ordered("model", CPU_ORDER)
                .set_text(n),
            None => {
                if let Some(c) = self.existing() {
                    c.remove_child("model");
                }
            }
        }
    }

    /// Sets or removes `<model fallback=>` (`allow`, `forbid`).
    pub fn set_model_fallback(&mut self, fallback: Option<&str>) {
        match fallback {
            Some(_) => set_child_attr(self.element(), "model", CPU_ORDER, "fallback", fallback),
            None => {
                if let Some(m) = self.existing().and_then(|c| c.child_mut("model")) {
                    m.remove_attr("fallback");
                }
            }
        }
    }

    /// Sets or removes `<topology>`.
    pub fn set_topology(&mut self, topology: Option<Topology>) {
        let Some(t) = topology else {
            if let Some(c) = self.existing() {
                c.remove_child("topology");
            }
            return;
        };
        let el = self.element().ensure_child_ordered("topology", CPU_ORDER);
        el.set_attr("sockets", &t.sockets.to_string());
        let opt = |el: &mut Element, name: &str, v: Option<u32>| match v {
            Some(v) => el.set_attr(name, &v.to_string()),
            None => {
                el.remove_attr(name);
            }
        };
        opt(el, "dies", t.dies);
        opt(el, "clusters", t.clusters);
        el.set_attr("cores", &t.cores.to_string());
        el.set_attr("threads", &t.threads.to_string());
    }

    /// Sets a feature's policy (`require`, `disable`, …), adding the feature when
    /// missing; `None` removes it.
    pub fn set_feature(&mut self, name: &str, policy: Option<&str>) {
        match policy {
            Some(p) => {
                let cpu = self.element();
                let exists = cpu
                    .children_named("feature")
                    .any(|f| f.attr("name").as_deref() == Some(name));
                if exists {
                    if let Some(f) = cpu
                        .children_named_mut("feature")
                        .find(|f| f.attr("name").as_deref() == Some(name))
                    {
                        f.set_attr("policy", p);
                    }
                } else {
                    cpu.insert_child_ordered(
                        Element::new("feature")
                            .with_attr("policy", p)
                            .with_attr("name", name),
                        CPU_ORDER,
                    );
                }
            }
            None => {
                if let Some(c) = self.existing() {
                    c.retain_elements(|f| {
                        !(f.name() == "feature" && f.attr("name").as_deref() == Some(name))
                    });
                }
            }
        }
    }

    /// Removes `<cpu>` when nothing is left in it.
    pub fn remove_if_empty(&mut self) {
        if self.existing().is_some_and(|c| is_bare(c)) {
            self.root.remove_child("cpu");
        }
    }
}
