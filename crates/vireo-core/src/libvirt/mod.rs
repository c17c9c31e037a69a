//! The libvirt client: one owner thread per connection, typed async requests, events.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vireo_core::libvirt::Error> {
//! use vireo_core::libvirt::{Client, ClientOptions, Event};
//! let client = Client::connect("test:///default", ClientOptions::default()).await?;
//! let mut events = client.subscribe();
//! for vm in client.list_domains().await? {
//!     println!("{} {}", vm.name, vm.state);
//! }
//! client.start("test").await.ok();
//! while let Ok(Event::Lifecycle { name, kind, .. }) = events.recv().await {
//!     println!("{name}: {kind}");
//! }
//! # Ok(()) }
//! ```
//!
//! The `virt` crate is blocking FFI: every call runs on the connection's owner thread (or
//! its job thread for save/restore), never on the caller's thread, so the GTK main loop never
//! waits for libvirt. State changes arrive as libvirt events through [`Client::subscribe`];
//! a lost connection is reported ([`ConnectionState::Lost`]) and re-established with
//! exponential back-off, followed by [`Event::Resynced`] with the full domain list.

mod client;
mod error;
mod ffi;
mod ops;
mod stats;
mod types;
mod undefine;
mod worker;
pub(crate) mod xmltree;

pub use client::{Client, Reply};
pub use error::Error;
pub use types::{
    ClientOptions, ConnectionState, DomainRef, DomainState, DomainStats, DomainSummary, Event,
    LifecycleKind, StorageNotRemoved, UndefineOptions, UndefineReport, UnknownDomainState,
    XmlFlags,
};

/// Opens a connection and waits for the first attempt; see [`Client::connect`].
pub async fn connect(uri: &str, options: ClientOptions) -> Result<Client, Error> {
    Client::connect(uri, options).await
}

/// The URI to use when none is given: `LIBVIRT_DEFAULT_URI` if set and not empty, else
/// `qemu:///system` for root and `qemu:///session` for everyone else.
pub fn default_uri() -> String {
    default_uri_from(
        std::env::var("LIBVIRT_DEFAULT_URI").ok().as_deref(),
        ffi::is_root(),
    )
}

fn default_uri_from(env: Option<&str>, root: bool) -> String {
    match env.map(str::trim) {
        Some(uri) if !uri.is_empty() => uri.to_owned(),
        _ if root => "qemu:///system".to_owned(),
        _ => "qemu:///session".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_uri_prefers_environment() {
        assert_eq!(
            default_uri_from(Some("test:///default"), true),
            "test:///default"
        );
        assert_eq!(default_uri_from(Some("  "), true), "qemu:///system");
        assert_eq!(default_uri_from(None, true), "qemu:///system");
        assert_eq!(default_uri_from(None, false), "qemu:///session");
    }

    #[test]
    fn domain_ref_recognises_uuids() {
        assert!(DomainRef::from("6695eb01-f6a4-8304-79aa-97f2502e193f").looks_like_uuid());
        assert!(DomainRef::from("6695eb01f6a4830479aa97f2502e193f").looks_like_uuid());
        assert!(!DomainRef::from("vireo-test-1").looks_like_uuid());
        assert!(!DomainRef::from("6695eb01-f6a4-8304-79aa-97f2502e193g").looks_like_uuid());
    }

    #[test]
    fn domain_state_strings_are_stable() {
        for s in DomainState::ALL {
            assert_eq!(s.as_str().parse::<DomainState>().unwrap(), s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().to_owned())
            );
        }
        assert_eq!(DomainState::ShutOff.to_string(), "shut-off");
        assert!("off".parse::<DomainState>().is_err());
    }

    #[test]
    fn events_serialize() {
        let e = Event::Connection(ConnectionState::Reconnecting {
            attempt: 2,
            retry_in: std::time::Duration::from_secs(2),
        });
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"connection","data":{"state":"reconnecting","attempt":2,"retry_in":2.0}}"#
        );
        let e = Event::Resynced(vec![]);
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"resynced","data":[]}"#
        );
    }
}
