//! The client against a real libvirtd (QEMU driver, TCG guests) started by the test setup:
//! `tests/support/libvirtd.sh start`. Without it these tests fail, saying so.
//!
//! The two tests run in parallel, each with its own `vireo-test-*` domain built from the
//! test guest (`tests/guest/`).

mod libvirt_common;

use std::time::{Duration, Instant};

use libvirt_common::{EVENT_WAIT, TestDomain, daemon_client, event, lifecycle, options};
use tokio::sync::Mutex;
use vireo_core::libvirt::{DomainState, Error, Event, LifecycleKind, UndefineOptions};
use vireo_core::virt_type::{self, CpuModeDefault, ResolvedVirtType, VirtType};

/// libvirtd locks a domain while it starts or stops QEMU, and listing domains waits for
/// those locks. The phases of the two tests that start or stop a domain take this lock so
/// that the timing of `list_domains` during the managed save measures the client, not the
/// other test. Boots (the long part) still overlap.
static DOMAIN_CHANGES: Mutex<()> = Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acpi_shutdown_of_a_booted_guest() {
    let client = daemon_client(options()).await;
    let mut events = client.subscribe();
    let dom = TestDomain::new("acpi");

    let defined = client.define_xml(dom.xml.as_str()).await.unwrap();
    assert_eq!(defined.state, DomainState::ShutOff);
    assert_eq!(
        lifecycle(&mut events, &dom.name, LifecycleKind::Defined).await,
        "added"
    );

    let started_at = Instant::now();
    let changing = DOMAIN_CHANGES.lock().await;
    client.start(dom.name.as_str()).await.unwrap();
    assert_eq!(
        lifecycle(&mut events, &dom.name, LifecycleKind::Started).await,
        "booted"
    );
    drop(changing);
    assert_eq!(
        client.lookup(dom.name.as_str()).await.unwrap().state,
        DomainState::Running
    );
    let err = client.start(dom.name.as_str()).await.unwrap_err();
    assert!(matches!(err, Error::OperationInvalid { .. }), "{err:?}");

    dom.wait_serial("VIREO-GUEST: booted").await;
    println!("guest booted in {:?}", started_at.elapsed());

    let shutdown_at = Instant::now();
    let changing = DOMAIN_CHANGES.lock().await;
    client.shutdown(defined.uuid.as_str()).await.unwrap();
    assert_eq!(
        lifecycle(&mut events, &dom.name, LifecycleKind::Stopped).await,
        "shutdown"
    );
    drop(changing);
    println!("ACPI shutdown took {:?}", shutdown_at.elapsed());
    dom.wait_serial("VIREO-GUEST: poweroff").await;
    let off = client.lookup(dom.name.as_str()).await.unwrap();
    assert_eq!(off.state, DomainState::ShutOff);
    assert_eq!(off.id, None);

    client
        .undefine(dom.name.as_str(), UndefineOptions::default())
        .await
        .unwrap();
    lifecycle(&mut events, &dom.name, LifecycleKind::Undefined).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_restore_destroy_and_delete_with_storage() {
    let client = daemon_client(options()).await;
    let mut events = client.subscribe();
    let mut dom = TestDomain::new("save");
    let disk = dom.add_disk();
    let name = dom.name.clone();

    client.define_xml(dom.xml.as_str()).await.unwrap();
    let changing = DOMAIN_CHANGES.lock().await;
    client.start(name.as_str()).await.unwrap();
    lifecycle(&mut events, &name, LifecycleKind::Started).await;
    drop(changing);
    dom.wait_serial("VIREO-GUEST: booted").await;

    let stats = client.stats([name.as_str()]).await.unwrap();
    assert_eq!(stats.len(), 1);
    let s = &stats[0];
    assert_eq!(s.state, DomainState::Running);
    assert!(s.cpu_time_ns.is_some_and(|t| t > 0), "{s:?}");
    assert_eq!(s.vcpus, Some(1));
    assert!(s.block_read_bytes.is_some(), "{s:?}");
    assert_eq!(s.net_rx_bytes, None, "the test guest has no NIC");

    // Managed save runs on the job thread; the owner thread keeps answering meanwhile.
    // (Near its end libvirtd itself keeps the domain locked while QEMU stops, and a list
    // made then waits for the daemon, whichever thread asks: only the first answers are
    // timed.)
    let changing = DOMAIN_CHANGES.lock().await;
    let save_started = Instant::now();
    let save = tokio::spawn(client.managed_save(name.as_str()));
    let mut answered_during_save = Vec::new();
    while !save.is_finished() {
        let t = Instant::now();
        let list = client.list_domains().await.unwrap();
        assert!(list.iter().any(|d| d.name == name));
        if !save.is_finished() {
            answered_during_save.push(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    save.await.unwrap().unwrap();
    let save_took = save_started.elapsed();
    drop(changing);
    println!(
        "managed save took {save_took:?}; list_domains answered during it in {:?}",
        answered_during_save
    );
    let first = answered_during_save
        .first()
        .expect("list_domains answered while the managed save ran");
    assert!(
        *first < Duration::from_millis(500) && *first < save_took / 2,
        "list_domains waited {first:?} behind a managed save of {save_took:?}"
    );
    // The save job reports its completion, then the domain stops.
    let (mut job_completed, mut stopped) = (false, None);
    event(
        &mut events,
        "job-completed and stopped events",
        EVENT_WAIT,
        |e| {
            match e {
                Event::JobCompleted { name: n, .. } if *n == name => job_completed = true,
                Event::Lifecycle {
                    name: n,
                    kind: LifecycleKind::Stopped,
                    detail,
                    ..
                } if *n == name => stopped = Some(*detail),
                _ => {}
            }
            (job_completed && stopped.is_some()).then_some(())
        },
    )
    .await;
    assert_eq!(stopped, Some("saved"));
    let saved = client.lookup(name.as_str()).await.unwrap();
    assert_eq!(saved.state, DomainState::ShutOff);
    assert!(saved.has_managed_save);

    let restored = client.restore(name.as_str()).await.unwrap();
    assert_eq!(restored.state, DomainState::Running);
    assert!(!restored.has_managed_save);
    assert_eq!(
        lifecycle(&mut events, &name, LifecycleKind::Started).await,
        "restored"
    );

    client.suspend(name.as_str()).await.unwrap();
    lifecycle(&mut events, &name, LifecycleKind::Suspended).await;
    client.resume(name.as_str()).await.unwrap();
    lifecycle(&mut events, &name, LifecycleKind::Resumed).await;

    // Saving to a file and restoring from it (job thread too).
    let file = dom.dir.join("state.sav");
    client.save_to_file(name.as_str(), &file).await.unwrap();
    assert_eq!(
        lifecycle(&mut events, &name, LifecycleKind::Stopped).await,
        "saved"
    );
    let back = client.restore_from_file(&file).await.unwrap();
    assert_eq!(back.name, name);
    assert_eq!(back.state, DomainState::Running);
    assert_eq!(
        lifecycle(&mut events, &name, LifecycleKind::Started).await,
        "restored"
    );

    client.destroy(name.as_str()).await.unwrap();
    assert_eq!(
        lifecycle(&mut events, &name, LifecycleKind::Stopped).await,
        "destroyed"
    );

    let report = client
        .undefine(
            name.as_str(),
            UndefineOptions {
                remove_storage: true,
                ..UndefineOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(report.removed, vec![disk.clone()], "{report:?}");
    assert!(report.not_removed.is_empty(), "{report:?}");
    assert!(!disk.exists(), "{} still exists", disk.display());
    lifecycle(&mut events, &name, LifecycleKind::Undefined).await;
    assert_eq!(
        client.lookup(name.as_str()).await,
        Err(Error::NoSuchDomain(name.clone()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capabilities_resolve_the_virt_type() {
    let client = daemon_client(options()).await;
    let caps = client.capabilities().await.unwrap();
    let arch = virt_type::host_arch(&caps).unwrap();
    assert_eq!(
        client
            .resolve_virt_type(VirtType::Qemu, None)
            .await
            .unwrap(),
        ResolvedVirtType::Qemu
    );
    let auto = client
        .resolve_virt_type(VirtType::Auto, None)
        .await
        .unwrap();
    let offers_kvm = virt_type::offered_types(&caps, &arch)
        .unwrap()
        .iter()
        .any(|t| t == "kvm");
    assert_eq!(auto == ResolvedVirtType::Kvm, offers_kvm);

    let domcaps = client
        .domain_capabilities(Some(VirtType::Qemu), None, None)
        .await
        .unwrap();
    assert!(domcaps.contains("<domain>qemu</domain>"), "{domcaps}");
    // Under TCG host-passthrough is not offered; the default is what the host says.
    let mode = virt_type::default_cpu_mode(&domcaps).unwrap();
    println!("{arch}: auto -> {auto}, TCG CPU default {mode:?}");
    assert_ne!(mode, CpuModeDefault::HostPassthrough);
    assert!(!client.hostname().await.unwrap().is_empty());

    // Not an error the user cannot read.
    let err = client
        .domain_capabilities(Some(VirtType::Qemu), Some("no-such-arch"), None)
        .await
        .unwrap_err();
    assert!(!err.to_string().is_empty());
    println!("unknown arch: {err}");
}
