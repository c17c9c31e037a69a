//! The only `unsafe` code of the client: the parts of libvirt's C API the `virt` crate does
//! not wrap (domain event callbacks, the connection close callback, `virDomainSave`,
//! `virDomainListGetStats`).
//!
//! Callbacks run on libvirt's event-loop thread. They never block (events go into a
//! `tokio::sync::broadcast` channel or a `std::sync::mpsc` channel, both non-blocking on
//! send), never panic across the FFI boundary (`catch_unwind`), and their opaque data is a
//! `Box` that libvirt frees through the free callback.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use tokio::sync::broadcast;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::Error as VirtError;
use virt::sys;

use super::types::{Event, LifecycleKind};

type GenericCallback = unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void);
type LifecycleCallback =
    unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, c_int, c_int, *mut c_void) -> c_int;
type DeviceCallback =
    unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *const c_char, *mut c_void);
type JobCompletedCallback = unsafe extern "C" fn(
    sys::virConnectPtr,
    sys::virDomainPtr,
    sys::virTypedParameterPtr,
    c_int,
    *mut c_void,
);

/// Opaque data of one domain event registration.
struct EventSink {
    events: broadcast::Sender<Event>,
}

/// Domain event callbacks registered on one connection; deregister with
/// [`deregister_domain_events`].
#[derive(Debug, Default)]
pub(crate) struct EventRegistrations {
    ids: Vec<c_int>,
}

/// Registers lifecycle, device-added, device-removed and job-completed callbacks for all
/// domains of `conn`, sending into `events`.
pub(crate) fn register_domain_events(
    conn: &Connect,
    events: &broadcast::Sender<Event>,
) -> Result<EventRegistrations, VirtError> {
    let lifecycle: LifecycleCallback = lifecycle_cb;
    let added: DeviceCallback = device_added_cb;
    let removed: DeviceCallback = device_removed_cb;
    let job: JobCompletedCallback = job_completed_cb;
    // SAFETY: libvirt's C API takes every domain event callback as the generic type and casts
    // it back to the type that matches the event ID (the `VIR_DOMAIN_EVENT_CALLBACK` macro of
    // libvirt's headers does the same cast). Each pointer below is registered with the ID its
    // real signature belongs to, so libvirt calls it with the right arguments.
    let table: [(u32, GenericCallback); 4] = unsafe {
        [
            (
                sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                std::mem::transmute::<LifecycleCallback, GenericCallback>(lifecycle),
            ),
            (
                sys::VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                std::mem::transmute::<DeviceCallback, GenericCallback>(added),
            ),
            (
                sys::VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                std::mem::transmute::<DeviceCallback, GenericCallback>(removed),
            ),
            (
                sys::VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                std::mem::transmute::<JobCompletedCallback, GenericCallback>(job),
            ),
        ]
    };

    let mut regs = EventRegistrations::default();
    for (event_id, callback) in table {
        let sink = Box::into_raw(Box::new(EventSink {
            events: events.clone(),
        }));
        // SAFETY: `conn` is a live connection for the duration of the call; a null domain
        // means "all domains"; `sink` is a valid heap pointer whose ownership passes to
        // libvirt on success, which releases it through `free_sink`.
        let id = unsafe {
            sys::virConnectDomainEventRegisterAny(
                conn.as_ptr(),
                ptr::null_mut(),
                event_id as c_int,
                Some(callback),
                sink.cast(),
                Some(free_sink),
            )
        };
        if id < 0 {
            let err = VirtError::last_error();
            // SAFETY: registration failed, so libvirt did not keep `sink` and will never call
            // `free_sink` for it: it is still ours to free, exactly once, here.
            drop(unsafe { Box::from_raw(sink) });
            if event_id == sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE {
                deregister_domain_events(conn, &mut regs);
                return Err(err);
            }
            // An older daemon may lack the device or job events: lifecycle is what matters.
            log::warn!("domain event {event_id} not available: {err}");
            continue;
        }
        regs.ids.push(id);
    }
    Ok(regs)
}

/// Deregisters callbacks; errors (a connection that is already dead) are ignored because
/// libvirt frees the remaining callbacks with the connection anyway.
pub(crate) fn deregister_domain_events(conn: &Connect, regs: &mut EventRegistrations) {
    for id in regs.ids.drain(..) {
        // SAFETY: `conn` is live and `id` came from `virConnectDomainEventRegisterAny` on it.
        let rc = unsafe { sys::virConnectDomainEventDeregisterAny(conn.as_ptr(), id) };
        if rc < 0 {
            log::debug!(
                "deregistering domain event callback {id}: {}",
                VirtError::last_error()
            );
        }
    }
}

unsafe extern "C" fn free_sink(opaque: *mut c_void) {
    let _ = catch_unwind(|| {
        // SAFETY: libvirt calls the free callback once, with the pointer we registered, which
        // came from `Box::into_raw` of an `EventSink`, after the last callback.
        drop(unsafe { Box::from_raw(opaque.cast::<EventSink>()) });
    });
}

/// Name and UUID of a domain handed to a callback (both read locally, no RPC).
///
/// # Safety
/// `dom` must be a valid domain pointer for the duration of the call.
unsafe fn domain_identity(dom: sys::virDomainPtr) -> Option<(String, String)> {
    let mut buf = [0 as c_char; sys::VIR_UUID_STRING_BUFLEN as usize];
    // SAFETY: `dom` is valid (caller contract) and `buf` has the size libvirt requires.
    if unsafe { sys::virDomainGetUUIDString(dom, buf.as_mut_ptr()) } < 0 {
        return None;
    }
    // SAFETY: on success libvirt wrote a NUL-terminated string into `buf`.
    let uuid = unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: `dom` is valid; the returned string belongs to the domain object and is only
    // copied here, not freed.
    let name_ptr = unsafe { sys::virDomainGetName(dom) };
    if name_ptr.is_null() {
        return None;
    }
    // SAFETY: non-null, NUL-terminated, alive as long as `dom`.
    let name = unsafe { CStr::from_ptr(name_ptr) }
        .to_string_lossy()
        .into_owned();
    Some((uuid, name))
}

/// Runs `f` with the sink and the domain's identity, catching any panic.
///
/// # Safety
/// `opaque` must be a pointer registered by [`register_domain_events`] and `dom` a valid
/// domain pointer, both for the duration of the call.
unsafe fn with_domain(
    dom: sys::virDomainPtr,
    opaque: *mut c_void,
    f: impl FnOnce(&EventSink, String, String),
) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: caller contract: `opaque` is our live `EventSink`.
        let sink = unsafe { &*opaque.cast::<EventSink>() };
        // SAFETY: caller contract: `dom` is valid.
        if let Some((uuid, name)) = unsafe { domain_identity(dom) } {
            f(sink, uuid, name);
        }
    }));
}

unsafe extern "C" fn lifecycle_cb(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    event: c_int,
    detail: c_int,
    opaque: *mut c_void,
) -> c_int {
    // SAFETY: libvirt passes the opaque pointer of this registration and a domain that is
    // valid during the callback.
    unsafe {
        with_domain(dom, opaque, |sink, uuid, name| {
            if let Some(kind) = lifecycle_kind(event) {
                let _ = sink.events.send(Event::Lifecycle {
                    uuid,
                    name,
                    kind,
                    detail: lifecycle_detail(kind, detail),
                });
            }
        });
    }
    0
}

unsafe extern "C" fn device_added_cb(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    alias: *const c_char,
    opaque: *mut c_void,
) {
    // SAFETY: as in `lifecycle_cb`; `alias` is a NUL-terminated string valid during the call.
    unsafe {
        let alias = c_string(alias);
        with_domain(dom, opaque, |sink, uuid, name| {
            let _ = sink.events.send(Event::DeviceAdded { uuid, name, alias });
        });
    }
}

unsafe extern "C" fn device_removed_cb(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    alias: *const c_char,
    opaque: *mut c_void,
) {
    // SAFETY: as in `device_added_cb`.
    unsafe {
        let alias = c_string(alias);
        with_domain(dom, opaque, |sink, uuid, name| {
            let _ = sink.events.send(Event::DeviceRemoved { uuid, name, alias });
        });
    }
}

unsafe extern "C" fn job_completed_cb(
    _conn: sys::virConnectPtr,
    dom: sys::virDomainPtr,
    _params: sys::virTypedParameterPtr,
    _nparams: c_int,
    opaque: *mut c_void,
) {
    // SAFETY: as in `lifecycle_cb`; the parameters are not read.
    unsafe {
        with_domain(dom, opaque, |sink, uuid, name| {
            let _ = sink.events.send(Event::JobCompleted { uuid, name });
        });
    }
}

/// Copies a C string that may be null.
///
/// # Safety
/// `s` is null or a valid NUL-terminated string.
unsafe fn c_string(s: *const c_char) -> String {
    if s.is_null() {
        return String::new();
    }
    // SAFETY: non-null and NUL-terminated (caller contract).
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

fn lifecycle_kind(event: c_int) -> Option<LifecycleKind> {
    Some(match u32::try_from(event).ok()? {
        sys::VIR_DOMAIN_EVENT_DEFINED => LifecycleKind::Defined,
        sys::VIR_DOMAIN_EVENT_UNDEFINED => LifecycleKind::Undefined,
        sys::VIR_DOMAIN_EVENT_STARTED => LifecycleKind::Started,
        sys::VIR_DOMAIN_EVENT_SUSPENDED => LifecycleKind::Suspended,
        sys::VIR_DOMAIN_EVENT_RESUMED => LifecycleKind::Resumed,
        sys::VIR_DOMAIN_EVENT_STOPPED => LifecycleKind::Stopped,
        sys::VIR_DOMAIN_EVENT_SHUTDOWN => LifecycleKind::Shutdown,
        sys::VIR_DOMAIN_EVENT_PMSUSPENDED => LifecycleKind::PmSuspended,
        sys::VIR_DOMAIN_EVENT_CRASHED => LifecycleKind::Crashed,
        _ => return None,
    })
}

/// libvirt's `virDomainEvent*DetailType` values, by kind, in libvirt's order.
fn lifecycle_detail(kind: LifecycleKind, detail: c_int) -> &'static str {
    const DEFINED: &[&str] = &["added", "updated", "renamed", "from-snapshot"];
    const UNDEFINED: &[&str] = &["removed", "renamed"];
    const STARTED: &[&str] = &[
        "booted",
        "migrated",
        "restored",
        "from-snapshot",
        "wakeup",
        "recreated",
    ];
    const SUSPENDED: &[&str] = &[
        "paused",
        "migrated",
        "io-error",
        "watchdog",
        "restored",
        "from-snapshot",
        "api-error",
        "postcopy",
        "postcopy-failed",
        "guest-shutdown",
    ];
    const RESUMED: &[&str] = &[
        "unpaused",
        "migrated",
        "from-snapshot",
        "postcopy",
        "postcopy-failed",
    ];
    const STOPPED: &[&str] = &[
        "shutdown",
        "destroyed",
        "crashed",
        "migrated",
        "saved",
        "failed",
        "from-snapshot",
        "recreated",
    ];
    const SHUTDOWN: &[&str] = &["finished", "guest", "host"];
    const PMSUSPENDED: &[&str] = &["memory", "disk"];
    const CRASHED: &[&str] = &["panicked", "crashloaded"];
    let names = match kind {
        LifecycleKind::Defined => DEFINED,
        LifecycleKind::Undefined => UNDEFINED,
        LifecycleKind::Started => STARTED,
        LifecycleKind::Suspended => SUSPENDED,
        LifecycleKind::Resumed => RESUMED,
        LifecycleKind::Stopped => STOPPED,
        LifecycleKind::Shutdown => SHUTDOWN,
        LifecycleKind::PmSuspended => PMSUSPENDED,
        LifecycleKind::Crashed => CRASHED,
    };
    usize::try_from(detail)
        .ok()
        .and_then(|i| names.get(i).copied())
        .unwrap_or("unknown")
}

/// True when the process runs as root (for the default URI).
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Opaque data of the close callback.
struct CloseSink {
    notify: Box<dyn Fn(String) + Send>,
}

/// Registers the connection close callback; `notify` receives a readable reason.
pub(crate) fn register_close_callback(
    conn: &Connect,
    notify: Box<dyn Fn(String) + Send>,
) -> Result<(), VirtError> {
    let sink = Box::into_raw(Box::new(CloseSink { notify }));
    // SAFETY: `conn` is live; `sink` is a valid heap pointer whose ownership passes to
    // libvirt on success (released through `free_close_sink`).
    let rc = unsafe {
        sys::virConnectRegisterCloseCallback(
            conn.as_ptr(),
            Some(close_cb),
            sink.cast(),
            Some(free_close_sink),
        )
    };
    if rc < 0 {
        let err = VirtError::last_error();
        // SAFETY: registration failed, libvirt did not keep `sink`: we free it, once.
        drop(unsafe { Box::from_raw(sink) });
        return Err(err);
    }
    Ok(())
}

/// Unregisters the close callback (before a deliberate close, so it is not reported as a
/// loss). Errors are ignored: there may be none registered (drivers without support).
pub(crate) fn unregister_close_callback(conn: &Connect) {
    // SAFETY: `conn` is live; `close_cb` is the function registered on it, if any.
    let rc = unsafe { sys::virConnectUnregisterCloseCallback(conn.as_ptr(), Some(close_cb)) };
    if rc < 0 {
        log::debug!("unregistering close callback: {}", VirtError::last_error());
    }
}

unsafe extern "C" fn close_cb(_conn: sys::virConnectPtr, reason: c_int, opaque: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `opaque` is the `CloseSink` registered with this callback, alive until
        // `free_close_sink`.
        let sink = unsafe { &*opaque.cast::<CloseSink>() };
        let reason = match u32::try_from(reason) {
            Ok(sys::VIR_CONNECT_CLOSE_REASON_ERROR) => "a connection error".to_owned(),
            Ok(sys::VIR_CONNECT_CLOSE_REASON_EOF) => "the host closed the connection".to_owned(),
            Ok(sys::VIR_CONNECT_CLOSE_REASON_KEEPALIVE) => {
                "the host stopped answering (keepalive timeout)".to_owned()
            }
            Ok(sys::VIR_CONNECT_CLOSE_REASON_CLIENT) => "the connection was closed".to_owned(),
            _ => format!("unknown reason {reason}"),
        };
        (sink.notify)(reason);
    }));
}

unsafe extern "C" fn free_close_sink(opaque: *mut c_void) {
    let _ = catch_unwind(|| {
        // SAFETY: called once by libvirt with the pointer from `Box::into_raw` of a
        // `CloseSink`.
        drop(unsafe { Box::from_raw(opaque.cast::<CloseSink>()) });
    });
}

/// `virDomainSave`: saves a running domain's memory to `path` and stops it.
pub(crate) fn save_domain(dom: &Domain, path: &str) -> Result<(), VirtError> {
    let path = CString::new(path)?;
    // SAFETY: `dom` is a live domain and `path` a NUL-terminated string for the call.
    let rc = unsafe { sys::virDomainSave(dom.as_ptr(), path.as_ptr()) };
    if rc < 0 {
        return Err(VirtError::last_error());
    }
    Ok(())
}

/// One value of a typed parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TypedValue {
    Int(i64),
    UInt(u64),
    Double(f64),
    Bool(bool),
    Str(String),
}

impl TypedValue {
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            TypedValue::Int(v) => u64::try_from(*v).ok(),
            TypedValue::UInt(v) => Some(*v),
            _ => None,
        }
    }
}

/// One record of `virDomainListGetStats`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatsRecord {
    pub uuid: String,
    pub name: String,
    pub params: Vec<(String, TypedValue)>,
}

/// `virDomainListGetStats` for exactly `doms`.
pub(crate) fn domain_list_get_stats(
    doms: &[Domain],
    stats: c_uint,
    flags: c_uint,
) -> Result<Vec<StatsRecord>, VirtError> {
    if doms.is_empty() {
        return Ok(Vec::new());
    }
    // SAFETY (for the `as_ptr` calls): the pointers stay valid because `doms` holds a
    // reference to each domain until the call returns.
    let mut list: Vec<sys::virDomainPtr> = doms.iter().map(|d| unsafe { d.as_ptr() }).collect();
    list.push(ptr::null_mut());
    let mut records: *mut sys::virDomainStatsRecordPtr = ptr::null_mut();
    // SAFETY: `list` is a NULL-terminated array of live domains of one connection;
    // `records` receives an array libvirt allocates and we free below.
    let n = unsafe { sys::virDomainListGetStats(list.as_mut_ptr(), stats, &mut records, flags) };
    if n < 0 {
        return Err(VirtError::last_error());
    }
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n as usize {
        // SAFETY: libvirt returned `n` valid record pointers.
        let rec = unsafe { *records.add(i) };
        if rec.is_null() {
            continue;
        }
        // SAFETY: `rec` is valid until the list is freed; its `dom` is a live domain.
        let rec = unsafe { &*rec };
        // SAFETY: see above.
        let Some((uuid, name)) = (unsafe { domain_identity(rec.dom) }) else {
            continue;
        };
        let count = usize::try_from(rec.nparams).unwrap_or(0);
        let mut params = Vec::with_capacity(count);
        for j in 0..count {
            // SAFETY: `params` has `nparams` elements.
            let p = unsafe { &*rec.params.add(j) };
            // SAFETY: `field` is a NUL-terminated array inside the parameter.
            let field = unsafe { CStr::from_ptr(p.field.as_ptr()) }
                .to_string_lossy()
                .into_owned();
            // SAFETY: the union member read is the one `type_` names.
            let value = unsafe {
                match u32::try_from(p.type_).unwrap_or(0) {
                    sys::VIR_TYPED_PARAM_INT => TypedValue::Int(i64::from(p.value.i)),
                    sys::VIR_TYPED_PARAM_UINT => TypedValue::UInt(u64::from(p.value.ui)),
                    sys::VIR_TYPED_PARAM_LLONG => TypedValue::Int(p.value.l),
                    sys::VIR_TYPED_PARAM_ULLONG => TypedValue::UInt(p.value.ul),
                    sys::VIR_TYPED_PARAM_DOUBLE => TypedValue::Double(p.value.d),
                    sys::VIR_TYPED_PARAM_BOOLEAN => TypedValue::Bool(p.value.b != 0),
                    sys::VIR_TYPED_PARAM_STRING => TypedValue::Str(c_string(p.value.s)),
                    _ => continue,
                }
            };
            params.push((field, value));
        }
        out.push(StatsRecord { uuid, name, params });
    }
    // SAFETY: `records` came from `virDomainListGetStats` and is freed once (with the domain
    // references it holds); nothing read from it is used afterwards.
    unsafe { sys::virDomainStatsRecordListFree(records) };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_details_are_named() {
        let stopped = sys::VIR_DOMAIN_EVENT_STOPPED_DESTROYED as c_int;
        assert_eq!(
            lifecycle_detail(LifecycleKind::Stopped, stopped),
            "destroyed"
        );
        assert_eq!(lifecycle_detail(LifecycleKind::Started, 2), "restored");
        assert_eq!(lifecycle_detail(LifecycleKind::Started, 99), "unknown");
        assert_eq!(lifecycle_detail(LifecycleKind::Started, -1), "unknown");
        assert_eq!(
            lifecycle_kind(sys::VIR_DOMAIN_EVENT_PMSUSPENDED as c_int),
            Some(LifecycleKind::PmSuspended)
        );
        assert_eq!(lifecycle_kind(42), None);
    }
}
