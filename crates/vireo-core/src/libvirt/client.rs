//! [`Client`], the handle the GUI and `vireoctl` use.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};

use tokio::sync::{broadcast, oneshot};
use virt::connect::Connect;
use virt::sys;

use super::error::Error;
use super::ops;
use super::stats;
use super::types::{
    ClientOptions, ConnectionState, DomainRef, DomainStats, DomainSummary, Event, UndefineOptions,
    UndefineReport, XmlFlags,
};
use super::undefine;
use super::worker::{self, OwnerMsg, Request, Shared};
use crate::virt_type::{self, ResolvedVirtType, VirtType};

/// The pending result of a request: a `Send + 'static` future that borrows nothing. The
/// request is queued when the method is called, whether or not the reply is awaited.
#[must_use = "the request runs anyway; await the reply to learn whether it succeeded"]
#[derive(Debug)]
pub struct Reply<T> {
    rx: oneshot::Receiver<Result<T, Error>>,
}

impl<T> Future for Reply<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // A request dropped unanswered (client closed, thread gone) counts as a lost
        // connection.
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::ConnectionLost)))
    }
}

/// A connection to one libvirt URI; cheap to clone, all clones share the connection.
///
/// Each method queues a request for the connection's owner thread (or, for long operations,
/// its job thread) at the moment it is called, and returns a `Send + 'static` future of the
/// result ([`Reply`]): requests run in the order they were made, and the reply can be handed
/// to `tokio::spawn` or a relm4 command without borrowing the client. While the connection is
/// lost, requests fail at once with [`Error::ConnectionLost`].
///
/// The connection closes when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    owner_tx: mpsc::Sender<OwnerMsg>,
    job_tx: mpsc::Sender<Request>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.owner_tx.send(OwnerMsg::Shutdown);
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("uri", &self.inner.shared.uri)
            .field("state", &self.inner.shared.state())
            .finish()
    }
}

impl Client {
    /// Starts the connection threads and returns at once; the connection opens in the
    /// background (state [`ConnectionState::Connecting`]) and is retried with back-off if
    /// it fails. Requests made before it opens wait for the first attempt.
    pub fn open(uri: &str, options: ClientOptions) -> Client {
        Self::spawn(uri, options, None)
    }

    /// Opens a connection and waits for the first attempt: `Ok` once connected, or
    /// [`Error::Connect`] (and the client is closed) when the first attempt fails.
    pub async fn connect(uri: &str, options: ClientOptions) -> Result<Client, Error> {
        let (tx, rx) = oneshot::channel();
        let client = Self::spawn(uri, options, Some(tx));
        match rx.await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Connect {
                uri: uri.to_owned(),
                message: match client.connection_state() {
                    ConnectionState::Lost { reason } => reason,
                    _ => "the connection thread stopped".to_owned(),
                },
            }),
        }
    }

    fn spawn(
        uri: &str,
        options: ClientOptions,
        first_open: Option<oneshot::Sender<Result<(), Error>>>,
    ) -> Client {
        let shared = Arc::new(Shared::new(uri.to_owned(), options));
        let (owner_tx, owner_rx) = mpsc::channel();
        let (job_tx, job_rx) = mpsc::channel();
        let started = worker::ensure_event_loop()
            .and_then(|()| worker::spawn_jobs(shared.clone(), job_rx))
            .and_then(|()| {
                worker::spawn_owner(shared.clone(), owner_tx.clone(), owner_rx, first_open)
            });
        if let Err(e) = started {
            // Without its threads the client can only report the failure; every request
            // fails with `ConnectionLost` because nobody receives it.
            log::error!("cannot open {uri}: {e}");
            shared.fail(e.to_string());
        }
        Client {
            inner: Arc::new(Inner {
                shared,
                owner_tx,
                job_tx,
            }),
        }
    }

    /// The URI this client was opened with.
    pub fn uri(&self) -> &str {
        &self.inner.shared.uri
    }

    /// The current connection state (also reported by [`Event::Connection`]).
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.shared.state()
    }

    /// Subscribes to events. Sending never waits for subscribers: a subscriber that falls
    /// more than `ClientOptions::event_capacity` events behind gets
    /// `RecvError::Lagged` and should call [`Client::list_domains`] to catch up.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.shared.events.subscribe()
    }

    fn request<T, F>(&self, on_job_thread: bool, f: F) -> Reply<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connect) -> Result<T, Error> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let request: Request = Box::new(move |conn| {
            let result = conn.and_then(f);
            let lost = matches!(result, Err(Error::ConnectionLost));
            let _ = tx.send(result);
            lost
        });
        // A dropped request drops `tx`, which resolves the future with `ConnectionLost`.
        if !self.inner.shared.is_down() {
            let _ = if on_job_thread {
                self.inner.job_tx.send(request).map_err(drop)
            } else {
                self.inner
                    .owner_tx
                    .send(OwnerMsg::Call(request))
                    .map_err(drop)
            };
        }
        Reply { rx }
    }

    fn domain_request<T, F>(
        &self,
        domain: impl Into<DomainRef>,
        on_job_thread: bool,
        f: F,
    ) -> Reply<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connect, &DomainRef) -> Result<T, Error> + Send + 'static,
    {
        let dref = domain.into();
        self.request(on_job_thread, move |conn| f(conn, &dref))
    }

    /// All domains, active and inactive, sorted by name.
    pub fn list_domains(&self) -> Reply<Vec<DomainSummary>> {
        self.request(false, ops::list)
    }

    /// One domain, by name or UUID.
    pub fn lookup(&self, domain: impl Into<DomainRef>) -> Reply<DomainSummary> {
        self.domain_request(domain, false, |conn, dref| {
            let dom = ops::lookup(conn, dref)?;
            ops::summary_of(conn, &dom, dref)
        })
    }

    /// The domain's XML: live (or inactive with `flags.inactive`).
    pub fn domain_xml(&self, domain: impl Into<DomainRef>, flags: XmlFlags) -> Reply<String> {
        let mut raw = 0;
        if flags.inactive {
            raw |= sys::VIR_DOMAIN_XML_INACTIVE;
        }
        if flags.secure {
            raw |= sys::VIR_DOMAIN_XML_SECURE;
        }
        self.domain_request(domain, false, move |conn, dref| {
            ops::with_domain(conn, dref, |dom| dom.xml_desc(raw))
        })
    }

    /// Defines (or redefines, same UUID) a persistent domain.
    pub fn define_xml(&self, xml: impl Into<String>) -> Reply<DomainSummary> {
        let xml = xml.into();
        self.request(false, move |conn| {
            let dom = conn
                .define_domain_xml(&xml)
                .map_err(|e| ops::map_err(conn, &e, None))?;
            let dref = DomainRef::new(dom.uuid_string().unwrap_or_default());
            ops::summary_of(conn, &dom, &dref)
        })
    }

    /// Starts (boots) a shut-off domain. A domain with a managed save image resumes from it,
    /// as libvirt does; see [`Client::restore`].
    pub fn start(&self, domain: impl Into<DomainRef>) -> Reply<()> {
        self.domain_request(domain, false, ops::start)
    }

    /// Asks the guest to shut down (ACPI power button); returns once the request is sent.
    pub fn shutdown(&self, domain: impl Into<DomainRef>) -> Reply<()> {
        self.domain_request(domain, false, |conn, dref| {
            ops::with_domain(conn, dref, |dom| dom.shutdown())
        })
    }

    /// Asks the guest to reboot.
    pub fn reboot(&self, domain: impl Into<DomainRef>) -> Reply<()> {
        self.domain_request(domain, false, |conn, dref| {
            ops::with_domain(conn, dref, |dom| dom.reboot(0))
        })
    }

    /// Forces the domain off, like pulling the power plug.
    pub fn destroy(&self, domain: impl Into<DomainRef>) -> Reply<()> {
        self.domain_request(domain, false, |conn, dref| {
            ops::with_domain(conn, dref, |dom| dom.destroy())
        })
    }

    /// Pauses the domain's virtual CPUs.
    pub fn suspend(&self, domain: impl Into<DomainRef>) -> Reply<()> {
        self.domain_request(domain, false, |conn, dref| {
            ops::with_domain(conn, dref, |dom| dom.suspend())
        })
    }

    /// Resumes a paused domain.
    pub fn resume(&self, domain: impl Into<DomainRef>) -> Reply<()> {
        self.domain_request(domain, false, |conn, dref| {
            ops::with_domain(conn, dref, |dom| dom.resume())
        })
    }

    /// Saves the domain's memory into libvirt's managed save image and stops it (job
    /// thread). The next [`Client::start`] or [`Client::restore`] resumes it.
    pub fn managed_save(&self, domain: impl Into<DomainRef>) -> Reply<()> {
        self.domain_request(domain, true, |conn, dref| {
            ops::with_domain(conn, dref, |dom| dom.managed_save(0))
        })
    }

    /// Saves the domain's memory into `path` (on the host running libvirtd) and stops it
    /// (job thread).
    pub fn save_to_file(
        &self,
        domain: impl Into<DomainRef>,
        path: impl Into<PathBuf>,
    ) -> Reply<()> {
        let path = path.into();
        self.domain_request(domain, true, move |conn, dref| {
            ops::save_to_file(conn, dref, &path)
        })
    }

    /// Starts the domain from its managed save image (job thread); fails with
    /// [`Error::OperationInvalid`] when it has none.
    pub fn restore(&self, domain: impl Into<DomainRef>) -> Reply<DomainSummary> {
        self.domain_request(domain, true, ops::restore_managed)
    }

    /// Starts a domain from a file written by [`Client::save_to_file`] (job thread).
    pub fn restore_from_file(&self, path: impl Into<PathBuf>) -> Reply<DomainSummary> {
        let path = path.into();
        self.request(true, move |conn| ops::restore_from_file(conn, &path))
    }

    /// Removes the domain's definition and, as asked, its disk volumes, UEFI variables and
    /// managed save image. The report lists the volumes deleted and the disks kept.
    pub fn undefine(
        &self,
        domain: impl Into<DomainRef>,
        options: UndefineOptions,
    ) -> Reply<UndefineReport> {
        self.domain_request(domain, false, move |conn, dref| {
            undefine::undefine(conn, dref, options)
        })
    }

    /// Statistics of the given domains only (the rows on screen); domains that no longer
    /// exist are left out of the result.
    pub fn stats<D>(&self, domains: impl IntoIterator<Item = D>) -> Reply<Vec<DomainStats>>
    where
        D: Into<DomainRef>,
    {
        let refs: Vec<DomainRef> = domains.into_iter().map(Into::into).collect();
        self.request(false, move |conn| stats::stats(conn, &refs))
    }

    /// The host capabilities XML (`virConnectGetCapabilities`).
    pub fn capabilities(&self) -> Reply<String> {
        self.request(false, |conn| {
            conn.capabilities()
                .map_err(|e| ops::map_err(conn, &e, None))
        })
    }

    /// The domain capabilities XML for a virtualization type, architecture and machine
    /// type (`None`: libvirt's defaults; [`VirtType::Auto`] is resolved against the host
    /// capabilities first).
    pub fn domain_capabilities(
        &self,
        virt_type: Option<VirtType>,
        arch: Option<&str>,
        machine: Option<&str>,
    ) -> Reply<String> {
        let arch = arch.map(str::to_owned);
        let machine = machine.map(str::to_owned);
        self.request(false, move |conn| {
            let resolved = match virt_type {
                Some(t) => Some(resolve_virt_type(conn, t, arch.as_deref())?),
                None => None,
            };
            conn.domain_capabilities(
                None,
                arch.as_deref(),
                machine.as_deref(),
                resolved.map(ResolvedVirtType::as_str),
                0,
            )
            .map_err(|e| ops::map_err(conn, &e, None))
        })
    }

    /// Resolves a virtualization type setting for an architecture (`None`: the host's):
    /// `Auto` becomes `kvm` when the host offers KVM for it, else `qemu`.
    pub fn resolve_virt_type(
        &self,
        virt_type: VirtType,
        arch: Option<&str>,
    ) -> Reply<ResolvedVirtType> {
        let arch = arch.map(str::to_owned);
        self.request(false, move |conn| {
            resolve_virt_type(conn, virt_type, arch.as_deref())
        })
    }

    /// The name of the host running libvirtd.
    pub fn hostname(&self) -> Reply<String> {
        self.request(false, |conn| {
            conn.hostname().map_err(|e| ops::map_err(conn, &e, None))
        })
    }
}

fn resolve_virt_type(
    conn: &Connect,
    virt_type: VirtType,
    arch: Option<&str>,
) -> Result<ResolvedVirtType, Error> {
    let caps = conn
        .capabilities()
        .map_err(|e| ops::map_err(conn, &e, None))?;
    Ok(virt_type::resolve(virt_type, &caps, arch)?)
}
