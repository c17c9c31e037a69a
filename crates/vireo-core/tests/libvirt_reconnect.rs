//! Losing libvirtd and getting it back: `tests/support/libvirtd.sh restart` kills the test
//! daemon (SIGKILL, a crash) and starts it again. The client must report the loss, fail
//! requests fast meanwhile, reconnect by itself and deliver events again.
//!
//! A separate test binary, so that no other test uses the daemon while it restarts.

mod libvirt_common;

use std::process::Command;
use std::time::{Duration, Instant};

use libvirt_common::{EVENT_WAIT, TestDomain, daemon_client, event, libvirtd_script, lifecycle};
use vireo_core::libvirt::{ClientOptions, ConnectionState, Error, Event, LifecycleKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_daemon_restarts() {
    let retry = Duration::from_secs(2);
    let client = daemon_client(ClientOptions {
        resync_interval: None,
        reconnect_initial: retry,
        ..ClientOptions::default()
    })
    .await;

    let script = libvirtd_script();
    let status = Command::new(&script)
        .arg("status")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let status = String::from_utf8_lossy(&status.stdout).trim().to_owned();
    if !status.starts_with("owned") {
        println!(
            "SKIPPED reconnects_after_the_daemon_restarts: the libvirtd answering on \
             qemu:///system was not started by tests/support/libvirtd.sh (status: {status:?}), \
             and restarting someone else's daemon is not the test's to do"
        );
        return;
    }

    // Open the job thread's connection too, so that it also has to recover.
    assert!(matches!(
        client.restore("vireo-test-no-such-domain").await,
        Err(Error::NoSuchDomain(_))
    ));

    let mut events = client.subscribe();
    let restarted_at = Instant::now();
    let restart = tokio::task::spawn_blocking(move || {
        Command::new(&script)
            .arg("restart")
            .output()
            .expect("run libvirtd.sh restart")
    });

    let reason = event(
        &mut events,
        "a Lost connection event",
        EVENT_WAIT,
        |e| match e {
            Event::Connection(ConnectionState::Lost { reason }) => Some(reason.clone()),
            _ => None,
        },
    )
    .await;
    println!(
        "connection lost after {:?}: {reason}",
        restarted_at.elapsed()
    );

    // The first reconnection attempt is `retry` away: requests fail at once meanwhile.
    let t = Instant::now();
    assert_eq!(client.list_domains().await, Err(Error::ConnectionLost));
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert!(matches!(
        client.connection_state(),
        ConnectionState::Lost { .. } | ConnectionState::Reconnecting { .. }
    ));

    let out = restart.await.unwrap();
    assert!(
        out.status.success(),
        "libvirtd.sh restart failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut attempts = Vec::new();
    event(
        &mut events,
        "a Connected event",
        Duration::from_secs(90),
        |e| match e {
            Event::Connection(ConnectionState::Reconnecting { attempt, retry_in }) => {
                attempts.push((*attempt, *retry_in));
                None
            }
            Event::Connection(ConnectionState::Connected) => Some(()),
            _ => None,
        },
    )
    .await;
    println!(
        "reconnected {:?} after the restart began; attempts {attempts:?}",
        restarted_at.elapsed()
    );
    assert_eq!(attempts.first(), Some(&(1, retry)), "{attempts:?}");
    let domains = event(&mut events, "a Resynced event", EVENT_WAIT, |e| match e {
        Event::Resynced(d) => Some(d.clone()),
        _ => None,
    })
    .await;
    assert_eq!(client.connection_state(), ConnectionState::Connected);
    assert_eq!(client.list_domains().await.unwrap(), domains);

    // Events flow again, on a connection registered after the restart.
    let dom = TestDomain::new("reconnect");
    client.define_xml(dom.xml.as_str()).await.unwrap();
    client.start(dom.name.as_str()).await.unwrap();
    assert_eq!(
        lifecycle(&mut events, &dom.name, LifecycleKind::Started).await,
        "booted"
    );
    // And the job thread works on a fresh connection of its own.
    client.managed_save(dom.name.as_str()).await.unwrap();
    assert_eq!(
        lifecycle(&mut events, &dom.name, LifecycleKind::Stopped).await,
        "saved"
    );
}
