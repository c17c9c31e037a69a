//! Plain data returned by the client: domain summaries, states, statistics, events, options.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

/// A domain, addressed by name or by UUID.
///
/// Both forms are accepted everywhere; when the text parses as a UUID, the UUID lookup is
/// tried first and the name lookup second (a domain may be *named* like a UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DomainRef(String);

impl DomainRef {
    pub fn new(name_or_uuid: impl Into<String>) -> Self {
        Self(name_or_uuid.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the text is a UUID (36 characters with dashes, or 32 hex digits).
    pub fn looks_like_uuid(&self) -> bool {
        let s = self.0.as_bytes();
        match s.len() {
            32 => s.iter().all(u8::is_ascii_hexdigit),
            36 => s.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            }),
            _ => false,
        }
    }
}

impl fmt::Display for DomainRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for DomainRef {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for DomainRef {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&String> for DomainRef {
    fn from(s: &String) -> Self {
        Self(s.clone())
    }
}

impl From<&DomainRef> for DomainRef {
    fn from(r: &DomainRef) -> Self {
        r.clone()
    }
}

/// A summary addresses the domain by its UUID (names can change).
impl From<&DomainSummary> for DomainRef {
    fn from(d: &DomainSummary) -> Self {
        Self(d.uuid.clone())
    }
}

/// The run state of a domain, with a stable lowercase string form (`as_str`, serde,
/// `FromStr`): `no-state`, `running`, `blocked`, `paused`, `shutting-down`, `shut-off`,
/// `crashed`, `pm-suspended`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DomainState {
    NoState,
    Running,
    Blocked,
    Paused,
    ShuttingDown,
    ShutOff,
    Crashed,
    PmSuspended,
}

impl DomainState {
    pub const ALL: [DomainState; 8] = [
        DomainState::NoState,
        DomainState::Running,
        DomainState::Blocked,
        DomainState::Paused,
        DomainState::ShuttingDown,
        DomainState::ShutOff,
        DomainState::Crashed,
        DomainState::PmSuspended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::NoState => "no-state",
            DomainState::Running => "running",
            DomainState::Blocked => "blocked",
            DomainState::Paused => "paused",
            DomainState::ShuttingDown => "shutting-down",
            DomainState::ShutOff => "shut-off",
            DomainState::Crashed => "crashed",
            DomainState::PmSuspended => "pm-suspended",
        }
    }

    /// True when the domain has a running QEMU process (it may be paused).
    pub fn is_active(self) -> bool {
        !matches!(self, DomainState::ShutOff | DomainState::Crashed)
    }

    pub(crate) fn from_raw(raw: u32) -> Self {
        use virt::sys;
        match raw {
            sys::VIR_DOMAIN_RUNNING => DomainState::Running,
            sys::VIR_DOMAIN_BLOCKED => DomainState::Blocked,
            sys::VIR_DOMAIN_PAUSED => DomainState::Paused,
            sys::VIR_DOMAIN_SHUTDOWN => DomainState::ShuttingDown,
            sys::VIR_DOMAIN_SHUTOFF => DomainState::ShutOff,
            sys::VIR_DOMAIN_CRASHED => DomainState::Crashed,
            sys::VIR_DOMAIN_PMSUSPENDED => DomainState::PmSuspended,
            _ => DomainState::NoState,
        }
    }
}

impl fmt::Display for DomainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`DomainState::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown domain state “{0}”")]
pub struct UnknownDomainState(pub String);

impl FromStr for DomainState {
    type Err = UnknownDomainState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DomainState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownDomainState(s.to_owned()))
    }
}

/// What a VM list row needs to know about a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainSummary {
    pub uuid: String,
    pub name: String,
    /// The hypervisor id while the domain runs.
    pub id: Option<u32>,
    pub state: DomainState,
    pub persistent: bool,
    pub autostart: bool,
    pub vcpus: u32,
    /// Current memory (`<currentMemory>`, or the balloon size while running).
    pub memory_kib: u64,
    /// Maximum memory (`<memory>`).
    pub max_memory_kib: u64,
    pub title: Option<String>,
    pub has_managed_save: bool,
}

/// Flags of [`Client::domain_xml`](super::Client::domain_xml).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XmlFlags {
    /// The persistent configuration rather than the live one.
    pub inactive: bool,
    /// Include security-sensitive data (VNC passwords…).
    pub secure: bool,
}

/// What [`Client::undefine`](super::Client::undefine) removes besides the definition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UndefineOptions {
    /// Delete the domain's disk volumes (`device='disk'` only, never CD-ROMs or floppies)
    /// through libvirt's storage API. Refused while the domain runs.
    pub remove_storage: bool,
    /// Delete the UEFI variable store; when false it is kept.
    pub nvram: bool,
    /// Delete a managed save image; when false, a domain that has one is not undefined.
    pub managed_save: bool,
}

/// The outcome of [`Client::undefine`](super::Client::undefine).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UndefineReport {
    /// Paths of the volumes deleted.
    pub removed: Vec<PathBuf>,
    /// Disks that were asked to be removed but were kept, with the reason.
    pub not_removed: Vec<StorageNotRemoved>,
}

/// A disk of an undefined domain that could not be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageNotRemoved {
    pub path: PathBuf,
    pub reason: String,
}

/// A sample of a domain's statistics (`virDomainListGetStats`). Fields a driver does not
/// report are `None`. Counters are cumulative: rates are differences between two samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainStats {
    pub uuid: String,
    pub name: String,
    pub state: DomainState,
    /// CPU time used by the domain, in nanoseconds.
    pub cpu_time_ns: Option<u64>,
    pub vcpus: Option<u32>,
    pub balloon_current_kib: Option<u64>,
    pub balloon_maximum_kib: Option<u64>,
    /// Sums over all disks.
    pub block_read_bytes: Option<u64>,
    pub block_write_bytes: Option<u64>,
    /// Sums over all interfaces.
    pub net_rx_bytes: Option<u64>,
    pub net_tx_bytes: Option<u64>,
    /// When the sample was taken, for rates.
    #[serde(skip)]
    pub sampled_at: Instant,
}

/// The kind of a lifecycle event (libvirt's `virDomainEventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LifecycleKind {
    Defined,
    Undefined,
    Started,
    Suspended,
    Resumed,
    Stopped,
    Shutdown,
    PmSuspended,
    Crashed,
}

impl LifecycleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleKind::Defined => "defined",
            LifecycleKind::Undefined => "undefined",
            LifecycleKind::Started => "started",
            LifecycleKind::Suspended => "suspended",
            LifecycleKind::Resumed => "resumed",
            LifecycleKind::Stopped => "stopped",
            LifecycleKind::Shutdown => "shutdown",
            LifecycleKind::PmSuspended => "pm-suspended",
            LifecycleKind::Crashed => "crashed",
        }
    }
}

impl fmt::Display for LifecycleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a client's connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ConnectionState {
    /// The first connection attempt is under way.
    Connecting,
    Connected,
    /// The connection closed (daemon stopped, network down, keepalive timeout…).
    Lost {
        reason: String,
    },
    /// Waiting `retry_in` before reconnection attempt number `attempt`.
    Reconnecting {
        attempt: u32,
        #[serde(serialize_with = "serialize_secs")]
        retry_in: Duration,
    },
}

fn serialize_secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Something that happened on the connection. Lifecycle and device events come from libvirt's
/// event callbacks; `Connection` and `Resynced` from the client itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "kebab-case")]
pub enum Event {
    Lifecycle {
        uuid: String,
        name: String,
        kind: LifecycleKind,
        /// libvirt's detail in lowercase, e.g. `booted`, `destroyed`, `saved`, `restored`,
        /// `shutdown`, `paused`; `unknown` for codes newer than Vireo.
        detail: &'static str,
    },
    DeviceAdded {
        uuid: String,
        name: String,
        alias: String,
    },
    DeviceRemoved {
        uuid: String,
        name: String,
        alias: String,
    },
    /// A job (save, migration, dump…) finished.
    JobCompleted {
        uuid: String,
        name: String,
    },
    Connection(ConnectionState),
    /// The full list of domains after a (re)connection or a periodic resync: replaces what
    /// the subscriber knew.
    Resynced(Vec<DomainSummary>),
}

/// Options of [`Client::open`](super::Client::open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Interval of the slow full resync, `None` to disable it. Events carry every state
    /// change libvirt reports, but some changes produce none (a title edited with
    /// `virsh desc`, autostart toggled, a managed save image removed by hand): the resync is
    /// the safety net for those, so it can be rare.
    pub resync_interval: Option<Duration>,
    /// Keepalive interval in seconds (`virConnectSetKeepAlive`), `<= 0` disables it.
    pub keepalive_interval_secs: i32,
    /// Keepalive messages that may go unanswered before the connection counts as lost.
    pub keepalive_count: u32,
    /// First reconnection delay; doubled after every failed attempt.
    pub reconnect_initial: Duration,
    /// Longest reconnection delay.
    pub reconnect_max: Duration,
    /// Events buffered per subscriber before a slow one starts to lag.
    pub event_capacity: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            resync_interval: Some(Duration::from_secs(300)),
            keepalive_interval_secs: 5,
            keepalive_count: 3,
            reconnect_initial: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
            event_capacity: 1024,
        }
    }
}
