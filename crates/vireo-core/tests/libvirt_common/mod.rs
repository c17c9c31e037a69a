//! Helpers of the real-daemon tests (`libvirt_daemon.rs`, `libvirt_reconnect.rs`).
//!
//! The daemon is started by the test setup (`tests/support/libvirtd.sh start`), the test
//! guest is built by `tests/guest/make-domain.sh`. Test domains are named `vireo-test-*` and
//! removed by a guard, also when a test fails.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use vireo_core::libvirt::{Client, ClientOptions, Event, LifecycleKind};

pub const URI: &str = "qemu:///system";

/// Generous bounds: TCG boots in seconds, but CI machines can be slow.
pub const EVENT_WAIT: Duration = Duration::from_secs(30);
pub const BOOT_WAIT: Duration = Duration::from_secs(90);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn libvirtd_script() -> PathBuf {
    repo_root().join("tests/support/libvirtd.sh")
}

/// Options for tests: no periodic resync (events only).
pub fn options() -> ClientOptions {
    ClientOptions {
        resync_interval: None,
        ..ClientOptions::default()
    }
}

/// Connects to the test daemon, or fails the test saying how to start one.
pub async fn daemon_client(options: ClientOptions) -> Client {
    match Client::connect(URI, options).await {
        Ok(c) => c,
        Err(e) => panic!(
            "no libvirt daemon answers at {URI}: {e}\n\
             These tests need the test daemon: run `tests/support/libvirtd.sh start` \
             (or the project's test script, which starts it) and try again."
        ),
    }
}

/// A directory the test may write into and QEMU (running as libvirt-qemu) may traverse.
pub fn work_dir(test: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("vireo-libvirt-tests")
        .join(format!("{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the test directory");
    let mut p = dir.as_path();
    // Make the directories we created searchable by the QEMU user.
    while p.starts_with(env!("CARGO_TARGET_TMPDIR")) {
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
        match p.parent() {
            Some(parent) => p = parent,
            None => break,
        }
    }
    dir
}

pub fn virsh(args: &[&str]) -> Result<String, String> {
    let out = Command::new("virsh")
        .arg("-q")
        .arg("-c")
        .arg(URI)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run virsh: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "virsh {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A test domain built from the test guest: its XML and serial log, removed on drop (with
/// its storage pool if it has one).
pub struct TestDomain {
    pub name: String,
    pub xml: String,
    pub serial_log: PathBuf,
    pub dir: PathBuf,
    pool: Option<String>,
}

impl TestDomain {
    /// `vireo-test-<purpose>-<pid>`, written by `tests/guest/make-domain.sh`.
    pub fn new(purpose: &str) -> TestDomain {
        let name = format!("vireo-test-{purpose}-{}", std::process::id());
        let dir = work_dir(purpose);
        let script = repo_root().join("tests/guest/make-domain.sh");
        let out = Command::new(&script)
            .arg(&name)
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let xml_path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let xml = std::fs::read_to_string(&xml_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", xml_path.display()));
        TestDomain {
            serial_log: dir.join(format!("{name}.serial.log")),
            name,
            xml,
            dir,
            pool: None,
        }
    }

    /// Adds a 1 MiB raw disk, a volume of a transient storage pool made for this test, and
    /// returns the volume's path. The guest has no virtio driver and ignores it.
    pub fn add_disk(&mut self) -> PathBuf {
        let pool = format!("{}-pool", self.name);
        let pool_dir = self.dir.join("pool");
        std::fs::create_dir_all(&pool_dir).expect("pool directory");
        let target = pool_dir.to_string_lossy().into_owned();
        virsh(&["pool-create-as", &pool, "dir", "--target", &target]).expect("create the pool");
        self.pool = Some(pool.clone());
        let vol = "disk.raw";
        virsh(&["vol-create-as", &pool, vol, "1M", "--format", "raw"]).expect("create a volume");
        let path = virsh(&["vol-path", "--pool", &pool, vol]).expect("volume path");
        let disk = format!(
            "<devices>\n    <disk type='file' device='disk'>\n      \
             <driver name='qemu' type='raw'/>\n      <source file='{path}'/>\n      \
             <target dev='vda' bus='virtio'/>\n    </disk>"
        );
        self.xml = self.xml.replacen("<devices>", &disk, 1);
        PathBuf::from(path)
    }

    /// Waits until the guest printed `line` on its serial console (a log file, not VM
    /// state: there is no libvirt event for what a guest prints).
    pub async fn wait_serial(&self, line: &str) {
        let start = Instant::now();
        loop {
            let log = std::fs::read_to_string(&self.serial_log).unwrap_or_default();
            if log.lines().any(|l| l.trim_end() == line) {
                return;
            }
            assert!(
                start.elapsed() < BOOT_WAIT,
                "{} did not print {line:?} within {BOOT_WAIT:?}; serial log:\n{log}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestDomain {
    fn drop(&mut self) {
        // Retried for a while: a failing test may have left the daemon restarting.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let _ = virsh(&["destroy", &self.name]);
            let _ = virsh(&["undefine", &self.name, "--managed-save", "--nvram"]);
            let gone = virsh(&["list", "--all", "--name"])
                .is_ok_and(|names| !names.lines().any(|n| n.trim() == self.name));
            if gone || Instant::now() >= deadline {
                if !gone {
                    eprintln!(
                        "could not remove {}; `tests/support/libvirtd.sh cleanup-domains` will",
                        self.name
                    );
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        if let Some(pool) = &self.pool {
            let _ = virsh(&["pool-destroy", pool]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits for the first lifecycle event of `kind` for `name` and returns its detail.
pub async fn lifecycle(
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
    tokio::time::timeout(EVENT_WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind} event for {name} within {EVENT_WAIT:?}"))
}

/// Waits for the first event `pick` accepts.
pub async fn event<T>(
    events: &mut broadcast::Receiver<Event>,
    what: &str,
    wait: Duration,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let fut = async {
        loop {
            match events.recv().await {
                Ok(e) => {
                    if let Some(t) = pick(&e) {
                        return t;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("event channel closed"),
            }
        }
    };
    tokio::time::timeout(wait, fut)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {wait:?}"))
}
