//! The client against libvirt's built-in test driver (`test:///default`): no daemon needed.
//!
//! All connections of one process to `test:///default` share one driver state, and the
//! tests of this file run in parallel: each test works on its own `vireo-test-*` domain
//! (the driver's own domain `test` is only read).

use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use vireo_core::libvirt::{
    Client, ClientOptions, ConnectionState, DomainState, Error, Event, LifecycleKind,
    UndefineOptions, XmlFlags,
};
use vireo_core::virt_type::VirtType;

const URI: &str = "test:///default";
const WAIT: Duration = Duration::from_secs(10);

fn options() -> ClientOptions {
    ClientOptions {
        resync_interval: None,
        ..ClientOptions::default()
    }
}

async fn client() -> Client {
    Client::connect(URI, options())
        .await
        .expect("the test driver opens without a daemon")
}

fn domain_xml(name: &str, extra_devices: &str) -> String {
    format!(
        "<domain type='test'>
           <name>{name}</name>
           <title>Vireo {name}</title>
           <memory unit='KiB'>131072</memory>
           <currentMemory unit='KiB'>65536</currentMemory>
           <vcpu>2</vcpu>
           <os><type arch='x86_64'>hvm</type></os>
           <devices>{extra_devices}</devices>
         </domain>"
    )
}

/// Waits for the first lifecycle event of `kind` for `name`, skipping everything else.
async fn lifecycle(
    events: &mut broadcast::Receiver<Event>,
    name: &str,
    kind: LifecycleKind,
) -> &'static str {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(Event::Lifecycle {
                    name: n,
                    kind: k,
                    detail,
                    ..
                }) if n == name && k == kind => return detail,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("event channel closed"),
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind} event for {name} within {WAIT:?}"))
}

/// Removes the domain when the test ends, also when it fails.
struct Cleanup(Client, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (client, name) = (self.0.clone(), self.1.clone());
        // The test's runtime may be gone: run on a runtime of our own, on another thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let _ = client.destroy(name.as_str()).await;
                let _ = client
                    .undefine(
                        name.as_str(),
                        UndefineOptions {
                            managed_save: true,
                            nvram: true,
                            remove_storage: false,
                        },
                    )
                    .await;
            });
        })
        .join();
    }
}

#[tokio::test]
async fn lists_and_looks_up_by_name_and_uuid() {
    let client = client().await;
    assert_eq!(client.uri(), URI);
    assert_eq!(client.connection_state(), ConnectionState::Connected);
    assert!(!client.hostname().await.unwrap().is_empty());

    let all = client.list_domains().await.unwrap();
    let test = all
        .iter()
        .find(|d| d.name == "test")
        .expect("the test driver's default domain");
    assert_eq!(test.state, DomainState::Running);
    assert!(test.id.is_some());
    assert!(test.persistent);
    assert!(test.vcpus >= 1);
    assert!(test.max_memory_kib >= test.memory_kib && test.memory_kib > 0);

    let by_name = client.lookup("test").await.unwrap();
    let by_uuid = client.lookup(test.uuid.as_str()).await.unwrap();
    let by_summary = client.lookup(test).await.unwrap();
    assert_eq!(by_name.uuid, test.uuid);
    assert_eq!(by_uuid.name, "test");
    assert_eq!(by_summary.name, "test");
    // The UUID without dashes is accepted too.
    let compact = test.uuid.replace('-', "");
    assert_eq!(client.lookup(compact).await.unwrap().name, "test");

    let json = serde_json::to_value(&by_name).unwrap();
    assert_eq!(json["state"], "running");
    assert_eq!(json["name"], "test");
}

#[tokio::test]
async fn errors_are_typed() {
    let client = client().await;
    assert_eq!(
        client.lookup("vireo-test-does-not-exist").await,
        Err(Error::NoSuchDomain("vireo-test-does-not-exist".into()))
    );
    let missing_uuid = "00000000-1111-2222-3333-444444444444";
    assert_eq!(
        client.start(missing_uuid).await,
        Err(Error::NoSuchDomain(missing_uuid.into()))
    );
    // Starting a running domain is not possible in its state.
    let err = client.start("test").await.unwrap_err();
    assert!(matches!(err, Error::OperationInvalid { .. }), "{err:?}");
    assert!(!err.to_string().is_empty());

    let err = client
        .define_xml("<domain type='test'><name>x")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidXml { .. }), "{err:?}");

    // Restoring a domain without saved state is refused with a readable message.
    let name = "vireo-test-errors";
    let _cleanup = Cleanup(client.clone(), name.into());
    client.define_xml(domain_xml(name, "")).await.unwrap();
    let err = client.restore(name).await.unwrap_err();
    assert!(
        matches!(&err, Error::OperationInvalid { message } if message.contains(name)),
        "{err:?}"
    );
}

#[tokio::test]
async fn lifecycle_calls_produce_events() {
    let client = client().await;
    let mut events = client.subscribe();
    let name = "vireo-test-lifecycle";
    let _cleanup = Cleanup(client.clone(), name.into());

    let defined = client.define_xml(domain_xml(name, "")).await.unwrap();
    assert_eq!(defined.name, name);
    assert_eq!(defined.state, DomainState::ShutOff);
    assert_eq!(defined.title.as_deref(), Some("Vireo vireo-test-lifecycle"));
    assert_eq!(defined.vcpus, 2);
    assert_eq!(defined.max_memory_kib, 131072);
    assert_eq!(defined.memory_kib, 65536);
    assert!(defined.persistent && !defined.autostart && !defined.has_managed_save);
    assert_eq!(defined.id, None);
    assert_eq!(
        lifecycle(&mut events, name, LifecycleKind::Defined).await,
        "added"
    );

    client.start(name).await.unwrap();
    assert_eq!(
        lifecycle(&mut events, name, LifecycleKind::Started).await,
        "booted"
    );
    let running = client.lookup(name).await.unwrap();
    assert_eq!(running.state, DomainState::Running);
    assert!(running.id.is_some());

    client.suspend(name).await.unwrap();
    lifecycle(&mut events, name, LifecycleKind::Suspended).await;
    assert_eq!(
        client.lookup(name).await.unwrap().state,
        DomainState::Paused
    );
    client.resume(name).await.unwrap();
    lifecycle(&mut events, name, LifecycleKind::Resumed).await;

    client.reboot(name).await.unwrap();
    client.shutdown(name).await.unwrap();
    lifecycle(&mut events, name, LifecycleKind::Stopped).await;
    assert_eq!(
        client.lookup(name).await.unwrap().state,
        DomainState::ShutOff
    );

    client.start(defined.uuid.as_str()).await.unwrap();
    lifecycle(&mut events, name, LifecycleKind::Started).await;
    client.destroy(name).await.unwrap();
    assert_eq!(
        lifecycle(&mut events, name, LifecycleKind::Stopped).await,
        "destroyed"
    );
    let err = client.destroy(name).await.unwrap_err();
    assert!(matches!(err, Error::OperationInvalid { .. }), "{err:?}");

    let live = client.domain_xml(name, XmlFlags::default()).await.unwrap();
    let inactive = client
        .domain_xml(
            name,
            XmlFlags {
                inactive: true,
                secure: true,
            },
        )
        .await
        .unwrap();
    assert!(live.contains(&format!("<name>{name}</name>")));
    assert!(inactive.contains(&defined.uuid));

    let report = client
        .undefine(name, UndefineOptions::default())
        .await
        .unwrap();
    assert!(report.removed.is_empty() && report.not_removed.is_empty());
    lifecycle(&mut events, name, LifecycleKind::Undefined).await;
    assert_eq!(
        client.lookup(name).await,
        Err(Error::NoSuchDomain(name.into()))
    );
}

#[tokio::test]
async fn managed_save_and_files_use_the_job_thread() {
    let client = client().await;
    let mut events = client.subscribe();
    let name = "vireo-test-save";
    let _cleanup = Cleanup(client.clone(), name.into());
    client.define_xml(domain_xml(name, "")).await.unwrap();
    client.start(name).await.unwrap();

    client.managed_save(name).await.unwrap();
    assert_eq!(
        lifecycle(&mut events, name, LifecycleKind::Stopped).await,
        "saved"
    );
    let saved = client.lookup(name).await.unwrap();
    assert_eq!(saved.state, DomainState::ShutOff);
    assert!(saved.has_managed_save);

    // Undefining a domain with a managed save image needs consent.
    let err = client
        .undefine(name, UndefineOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OperationInvalid { .. }), "{err:?}");

    let restored = client.restore(name).await.unwrap();
    assert_eq!(restored.state, DomainState::Running);
    assert!(!restored.has_managed_save);
    // The test driver reports this start as "booted"; the QEMU driver says "restored"
    // (checked in libvirt_daemon.rs).
    lifecycle(&mut events, name, LifecycleKind::Started).await;

    let dir = std::env::temp_dir().join(format!("vireo-test-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.sav");
    client.save_to_file(name, &file).await.unwrap();
    lifecycle(&mut events, name, LifecycleKind::Stopped).await;
    assert_eq!(
        client.lookup(name).await.unwrap().state,
        DomainState::ShutOff
    );
    let back = client.restore_from_file(&file).await.unwrap();
    assert_eq!(back.name, name);
    assert_eq!(back.state, DomainState::Running);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn undefine_removes_storage_volumes() {
    let client = client().await;
    let name = "vireo-test-storage";
    let _cleanup = Cleanup(client.clone(), name.into());

    // A volume in the test driver's pool, created with the plain `virt` API.
    let conn = virt::connect::Connect::open(Some(URI)).unwrap();
    let pool = conn.lookup_storage_pool_by_name("default-pool").unwrap();
    let vol_xml = "<volume><name>vireo-test-storage.img</name>\
                   <capacity unit='MiB'>1</capacity></volume>";
    let vol = virt::storage_vol::StorageVol::create_xml(&pool, vol_xml, 0).unwrap();
    let vol_path = vol.path().unwrap();
    drop(vol);

    let disks = format!(
        "<disk type='file' device='disk'><source file='{vol_path}'/>\
           <target dev='vda' bus='virtio'/></disk>\
         <disk type='file' device='disk'><source file='/nonexistent/vireo-test.img'/>\
           <target dev='vdb' bus='virtio'/></disk>\
         <disk type='file' device='cdrom'><source file='/default-pool/install.iso'/>\
           <target dev='hdc' bus='ide'/></disk>"
    );
    client.define_xml(domain_xml(name, &disks)).await.unwrap();

    // Refused while running.
    client.start(name).await.unwrap();
    let storage = UndefineOptions {
        remove_storage: true,
        ..UndefineOptions::default()
    };
    let err = client.undefine(name, storage).await.unwrap_err();
    assert!(matches!(err, Error::OperationInvalid { .. }), "{err:?}");
    client.destroy(name).await.unwrap();

    let report = client.undefine(name, storage).await.unwrap();
    assert_eq!(report.removed, vec![std::path::PathBuf::from(&vol_path)]);
    assert_eq!(report.not_removed.len(), 1, "{report:?}");
    assert_eq!(
        report.not_removed[0].path,
        std::path::PathBuf::from("/nonexistent/vireo-test.img")
    );
    assert!(conn.lookup_storage_vol_by_path(&vol_path).is_err());
    assert!(matches!(
        client.lookup(name).await,
        Err(Error::NoSuchDomain(_))
    ));
}

#[tokio::test]
async fn stats_only_for_the_domains_asked() {
    let client = client().await;
    let test = client.lookup("test").await.unwrap();
    let stats = client
        .stats([test.uuid.as_str(), "vireo-test-no-such-domain"])
        .await
        .unwrap();
    assert_eq!(stats.len(), 1, "{stats:?}");
    let s = &stats[0];
    assert_eq!(s.uuid, test.uuid);
    assert_eq!(s.name, "test");
    // The test driver reports only the state group; the QEMU driver's counters are
    // checked in libvirt_daemon.rs.
    assert_eq!(s.state, DomainState::Running);
    let none: [&str; 0] = [];
    assert!(client.stats(none).await.unwrap().is_empty());
}

#[tokio::test]
async fn capabilities_and_virt_type() {
    let client = client().await;
    let caps = client.capabilities().await.unwrap();
    assert!(caps.contains("<capabilities>"));
    // The test driver offers only its own `test` type: an explicit qemu is refused.
    let err = client
        .resolve_virt_type(VirtType::Qemu, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
}

#[tokio::test]
async fn periodic_resync_sends_the_full_list() {
    let client = Client::connect(
        URI,
        ClientOptions {
            resync_interval: Some(Duration::from_millis(200)),
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    let mut events = client.subscribe();
    let domains = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(Event::Resynced(domains)) = events.recv().await {
                return domains;
            }
        }
    })
    .await
    .expect("a resync within the interval");
    assert!(domains.iter().any(|d| d.name == "test"));
}

#[tokio::test]
async fn connection_failures_are_reported() {
    let uri = "qemu+unix:///system?socket=/nonexistent/vireo-test.sock";
    let err = Client::connect(uri, options()).await.unwrap_err();
    match &err {
        Error::Connect { uri: u, message } => {
            assert_eq!(u, uri);
            assert!(!message.is_empty());
        }
        other => panic!("expected a connect error, got {other:?}"),
    }

    // A client opened in the background keeps retrying and fails requests fast meanwhile.
    let client = Client::open(
        uri,
        ClientOptions {
            reconnect_initial: Duration::from_secs(5),
            ..options()
        },
    );
    // Events sent before a subscription are not replayed: read the state instead.
    let deadline = Instant::now() + WAIT;
    loop {
        match client.connection_state() {
            ConnectionState::Reconnecting { attempt, retry_in } => {
                assert_eq!(attempt, 1);
                assert_eq!(retry_in, Duration::from_secs(5));
                break;
            }
            other => assert!(Instant::now() < deadline, "still {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let t = Instant::now();
    assert_eq!(client.list_domains().await, Err(Error::ConnectionLost));
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn requests_made_while_connecting_wait_for_the_connection() {
    let client = Client::open(URI, options());
    let list = client.list_domains();
    let lookup = client.lookup("test");
    assert!(list.await.unwrap().iter().any(|d| d.name == "test"));
    assert_eq!(lookup.await.unwrap().name, "test");
    assert_eq!(client.connection_state(), ConnectionState::Connected);
    // The free function does the same as `Client::connect`.
    let again = vireo_core::libvirt::connect(URI, options()).await.unwrap();
    assert_eq!(again.uri(), URI);
}
