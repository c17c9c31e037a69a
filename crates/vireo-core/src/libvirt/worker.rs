//! The threads behind a [`Client`](super::Client).
//!
//! * libvirt's default event loop: one thread per process, started before the first
//!   connection opens; it dispatches domain events, keepalives and close notifications.
//! * The owner thread: one per client, owns the `virt::Connect` that serves requests, keeps
//!   the connection alive and reconnects with exponential back-off when it is lost.
//! * The job thread: one per client, with its own connection, for long operations (save,
//!   restore) so they never hold up the owner thread.
//!
//! `virt` calls block; callers only ever wait on a oneshot channel.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, oneshot};
use virt::connect::Connect;

use super::error::Error;
use super::ffi;
use super::ops;
use super::types::{ClientOptions, ConnectionState, Event};

/// A request for a connection thread: runs with the connection (or the reason there is
/// none) and returns true when it found the connection dead.
pub(crate) type Request = Box<dyn FnOnce(Result<&Connect, Error>) -> bool + Send>;

/// Messages to the owner thread.
pub(crate) enum OwnerMsg {
    Call(Request),
    /// The close callback of connection number `generation` fired.
    Closed {
        generation: u64,
        reason: String,
    },
    /// The last `Client` handle is gone.
    Shutdown,
}

/// State shared by a client's handles and threads.
pub(crate) struct Shared {
    pub uri: String,
    pub options: ClientOptions,
    pub events: broadcast::Sender<Event>,
    state: Mutex<ConnectionState>,
}

impl Shared {
    pub(crate) fn new(uri: String, options: ClientOptions) -> Self {
        let (events, _) = broadcast::channel(options.event_capacity.max(16));
        Self {
            uri,
            options,
            events,
            state: Mutex::new(ConnectionState::Connecting),
        }
    }

    pub(crate) fn state(&self) -> ConnectionState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Requests fail fast while the connection is known to be down.
    pub(crate) fn is_down(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(PoisonError::into_inner),
            ConnectionState::Lost { .. } | ConnectionState::Reconnecting { .. }
        )
    }

    /// Marks the client as unusable (its threads could not start).
    pub(crate) fn fail(&self, reason: String) {
        self.set_state(ConnectionState::Lost { reason });
    }

    fn set_state(&self, state: ConnectionState) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state.clone();
        let _ = self.events.send(Event::Connection(state));
    }
}

/// Starts libvirt's default event loop once per process. It must be registered before the
/// first connection is opened, or that connection gets no events and no keepalive.
pub(crate) fn ensure_event_loop() -> Result<(), Error> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            // libvirt prints every error to stderr by default; Vireo reports them itself.
            virt::error::clear_error_callback();
            virt::event::event_register_default_impl().map_err(|e| e.message().to_owned())?;
            thread::Builder::new()
                .name("libvirt-events".into())
                .spawn(|| {
                    loop {
                        if let Err(e) = virt::event::event_run_default_impl() {
                            log::error!("libvirt event loop: {e}");
                            thread::sleep(Duration::from_millis(100));
                        }
                    }
                })
                .map(drop)
                .map_err(|e| format!("cannot start the libvirt event thread: {e}"))
        })
        .clone()
        .map_err(|message| Error::Libvirt {
            code: 0,
            domain: 0,
            message,
        })
}

fn open(uri: &str, options: &ClientOptions) -> Result<Connect, Error> {
    let conn = Connect::open(Some(uri)).map_err(|e| Error::connect(uri, &e))?;
    if options.keepalive_interval_secs > 0 {
        // Local drivers (test://) have no keepalive: that is fine.
        if let Err(e) =
            conn.set_keep_alive(options.keepalive_interval_secs, options.keepalive_count)
        {
            log::debug!("keepalive not enabled on {uri}: {e}");
        }
    }
    Ok(conn)
}

/// Runs a request; a panic (a bug, or the `virt` crate panicking in a destructor) fails
/// only that request, whose caller sees `ConnectionLost`, and keeps the thread alive.
fn run_request(request: Request, conn: Result<&Connect, Error>) -> bool {
    match catch_unwind(AssertUnwindSafe(move || request(conn))) {
        Ok(dead) => dead,
        Err(_) => {
            log::error!("a libvirt request panicked");
            false
        }
    }
}

/// Spawns the owner thread. `first_open` receives the outcome of the first attempt.
pub(crate) fn spawn_owner(
    shared: Arc<Shared>,
    tx: mpsc::Sender<OwnerMsg>,
    rx: mpsc::Receiver<OwnerMsg>,
    first_open: Option<oneshot::Sender<Result<(), Error>>>,
) -> Result<(), Error> {
    let name = format!("libvirt {}", shared.uri);
    thread::Builder::new()
        .name(name)
        .spawn(move || {
            let delay = shared.options.reconnect_initial;
            Owner {
                shared,
                tx,
                conn: None,
                generation: 0,
                first_open,
                attempt: 0,
                delay,
            }
            .run(rx)
        })
        .map(drop)
        .map_err(|e| Error::Libvirt {
            code: 0,
            domain: 0,
            message: format!("cannot start the connection thread: {e}"),
        })
}

/// The live connection of the owner thread and what is registered on it.
struct Live {
    conn: Connect,
    events: ffi::EventRegistrations,
}

struct Owner {
    shared: Arc<Shared>,
    /// Cloned into close callbacks.
    tx: mpsc::Sender<OwnerMsg>,
    conn: Option<Live>,
    /// Identifies the current connection, so a late close notification of an old one is
    /// ignored.
    generation: u64,
    first_open: Option<oneshot::Sender<Result<(), Error>>>,
    /// Reconnection attempts since the connection was lost (0 while connected).
    attempt: u32,
    /// Delay before the next attempt.
    delay: Duration,
}

impl Owner {
    fn run(mut self, rx: mpsc::Receiver<OwnerMsg>) {
        // The first attempt comes before any request is served, so that requests made
        // while connecting wait for it instead of failing.
        // When disconnected, `deadline` is the next attempt; when connected, the next
        // resync (`None`: none planned).
        let mut deadline = self.attempt_open();
        loop {
            let msg = match deadline {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => break,
                },
            };
            match msg {
                Some(OwnerMsg::Shutdown) => break,
                Some(OwnerMsg::Call(request)) => {
                    let found_dead = match &self.conn {
                        Some(live) => run_request(request, Ok(&live.conn)),
                        None => run_request(request, Err(Error::ConnectionLost)),
                    };
                    let dead = found_dead
                        && self
                            .conn
                            .as_ref()
                            .is_some_and(|l| !l.conn.is_alive().unwrap_or(false));
                    if dead {
                        deadline = Some(self.lost("the connection stopped working".to_owned()));
                    }
                }
                Some(OwnerMsg::Closed { generation, reason }) => {
                    if generation == self.generation && self.conn.is_some() {
                        deadline = Some(self.lost(reason));
                    }
                }
                None if self.conn.is_some() => {
                    // The slow periodic resync: a safety net for changes that produce no
                    // event (see `ClientOptions::resync_interval`).
                    self.resync();
                    deadline = self.next_resync();
                }
                None => deadline = self.attempt_open(),
            }
        }
        self.close();
    }

    fn next_resync(&self) -> Option<Instant> {
        self.shared
            .options
            .resync_interval
            .map(|i| Instant::now() + i)
    }

    /// One connection attempt; returns the next deadline (resync or retry).
    fn attempt_open(&mut self) -> Option<Instant> {
        match self.try_open() {
            Ok(()) => {
                self.attempt = 0;
                self.delay = self.shared.options.reconnect_initial;
                self.next_resync()
            }
            Err(e) => {
                if let Some(first) = self.first_open.take() {
                    // `connect()` reports the failure and drops the client.
                    let _ = first.send(Err(e.clone()));
                }
                if self.attempt == 0 {
                    self.shared.set_state(ConnectionState::Lost {
                        reason: e.to_string(),
                    });
                }
                Some(self.schedule_retry())
            }
        }
    }

    /// Announces the next attempt and returns when it is due.
    fn schedule_retry(&mut self) -> Instant {
        self.attempt += 1;
        let retry_in = self.delay;
        self.shared.set_state(ConnectionState::Reconnecting {
            attempt: self.attempt,
            retry_in,
        });
        self.delay = (self.delay * 2).min(self.shared.options.reconnect_max);
        Instant::now() + retry_in
    }

    fn try_open(&mut self) -> Result<(), Error> {
        let conn = open(&self.shared.uri, &self.shared.options)?;
        self.generation += 1;
        let generation = self.generation;
        let tx = self.tx.clone();
        let notify = Box::new(move |reason: String| {
            let _ = tx.send(OwnerMsg::Closed { generation, reason });
        });
        if let Err(e) = ffi::register_close_callback(&conn, notify) {
            // Local drivers never close by themselves and have no close callback.
            log::debug!("no close callback on {}: {e}", self.shared.uri);
        }
        let events = match ffi::register_domain_events(&conn, &self.shared.events) {
            Ok(regs) => regs,
            Err(e) => {
                ffi::unregister_close_callback(&conn);
                return Err(Error::connect(&self.shared.uri, &e));
            }
        };
        self.conn = Some(Live { conn, events });
        self.shared.set_state(ConnectionState::Connected);
        if let Some(first) = self.first_open.take() {
            let _ = first.send(Ok(()));
        }
        self.resync();
        Ok(())
    }

    fn resync(&mut self) {
        let Some(live) = &self.conn else { return };
        match ops::list(&live.conn) {
            Ok(domains) => {
                let _ = self.shared.events.send(Event::Resynced(domains));
            }
            Err(e) => log::warn!("resync of {} failed: {e}", self.shared.uri),
        }
    }

    /// Reports the loss and returns when to try again.
    fn lost(&mut self, reason: String) -> Instant {
        self.close();
        self.shared.set_state(ConnectionState::Lost { reason });
        self.attempt = 0;
        self.delay = self.shared.options.reconnect_initial;
        self.schedule_retry()
    }

    /// Closes the current connection, if any, without reporting a loss.
    fn close(&mut self) {
        if let Some(mut live) = self.conn.take() {
            ffi::unregister_close_callback(&live.conn);
            ffi::deregister_domain_events(&live.conn, &mut live.events);
            drop(live);
        }
    }
}

/// Spawns the job thread. It opens its own connection on the first job and reopens it
/// after the connection was lost.
pub(crate) fn spawn_jobs(shared: Arc<Shared>, rx: mpsc::Receiver<Request>) -> Result<(), Error> {
    let name = format!("libvirt jobs {}", shared.uri);
    thread::Builder::new()
        .name(name)
        .spawn(move || {
            let mut conn: Option<Connect> = None;
            while let Ok(request) = rx.recv() {
                if shared.is_down() {
                    conn = None;
                    run_request(request, Err(Error::ConnectionLost));
                    continue;
                }
                if !conn.as_ref().is_some_and(|c| c.is_alive().unwrap_or(false)) {
                    conn = None;
                    match open(&shared.uri, &shared.options) {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            log::warn!("job connection to {}: {e}", shared.uri);
                            run_request(request, Err(Error::ConnectionLost));
                            continue;
                        }
                    }
                }
                if let Some(c) = &conn
                    && run_request(request, Ok(c))
                {
                    conn = None;
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::Libvirt {
            code: 0,
            domain: 0,
            message: format!("cannot start the job thread: {e}"),
        })
}
