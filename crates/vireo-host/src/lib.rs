//! Host inspection and host-configuration planning for Vireo.
//!
//! No GTK and no libvirt here: this crate reads sysfs and `/etc` through a [`HostRoot`]
//! so tests run on generated trees, and it defines the protocol spoken with the
//! privileged helper ([`protocol`]).

pub mod protocol;
pub mod root;

pub use root::HostRoot;
