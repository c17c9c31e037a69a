//! Vireo's core, free of GTK: the lossless domain model, the libvirt client and the
//! conventions shared by the GUI and `vireoctl`.

pub mod domain;
pub mod libvirt;
pub mod size;
pub mod virt_type;
pub mod xml;
