//! Blocking operations on one `virt::Connect`. They run on the connection's owner thread or
//! job thread, never on a caller's thread.

use std::path::Path;

use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::{Error as VirtError, ErrorNumber};
use virt::sys;

use super::error::Error;
use super::ffi;
use super::types::{DomainRef, DomainState, DomainSummary};
use super::xmltree;

/// Maps a libvirt error, turning failures of a connection that is no longer alive into
/// [`Error::ConnectionLost`].
pub(crate) fn map_err(conn: &Connect, err: &VirtError, subject: Option<&DomainRef>) -> Error {
    if !conn.is_alive().unwrap_or(false) {
        return Error::ConnectionLost;
    }
    Error::from_virt(err, subject)
}

pub(crate) fn is_code(err: &VirtError, code: ErrorNumber) -> bool {
    err.code().is(code)
}

/// Finds a domain by UUID (when the text is one) and then by name.
pub(crate) fn lookup(conn: &Connect, dref: &DomainRef) -> Result<Domain, Error> {
    if dref.looks_like_uuid() {
        match conn.lookup_domain_by_uuid_string(dref.as_str()) {
            Ok(dom) => return Ok(dom),
            Err(e)
                if is_code(&e, ErrorNumber::NoDomain) || is_code(&e, ErrorNumber::InvalidArg) => {}
            Err(e) => return Err(map_err(conn, &e, Some(dref))),
        }
    }
    conn.lookup_domain_by_name(dref.as_str())
        .map_err(|e| map_err(conn, &e, Some(dref)))
}

/// Reads everything a [`DomainSummary`] holds.
pub(crate) fn summary(dom: &Domain) -> Result<DomainSummary, VirtError> {
    let info = dom.info()?;
    let title = match dom.metadata(sys::VIR_DOMAIN_METADATA_TITLE as i32, None, 0) {
        Ok(t) if t.trim().is_empty() => None,
        Ok(t) => Some(t),
        Err(e) if is_code(&e, ErrorNumber::NoDomainMetadata) => None,
        Err(e) if is_code(&e, ErrorNumber::NoSupport) => None,
        Err(e) => return Err(e),
    };
    let persistent = dom.is_persistent()?;
    // Transient domains have no autostart setting and no managed save.
    let autostart = if persistent { dom.autostart()? } else { false };
    let has_managed_save = if persistent {
        match dom.has_managed_save(0) {
            Ok(v) => v,
            Err(e) if is_code(&e, ErrorNumber::NoSupport) => false,
            Err(e) => return Err(e),
        }
    } else {
        false
    };
    Ok(DomainSummary {
        uuid: dom.uuid_string()?,
        name: dom.name()?,
        id: dom.id(),
        state: DomainState::from_raw(info.state.to_raw()),
        persistent,
        autostart,
        vcpus: info.nr_virt_cpu,
        memory_kib: info.memory,
        max_memory_kib: info.max_mem,
        title,
        has_managed_save,
    })
}

pub(crate) fn summary_of(
    conn: &Connect,
    dom: &Domain,
    dref: &DomainRef,
) -> Result<DomainSummary, Error> {
    summary(dom).map_err(|e| map_err(conn, &e, Some(dref)))
}

/// All domains, active and inactive, sorted by name. A domain that disappears while being
/// read is left out.
pub(crate) fn list(conn: &Connect) -> Result<Vec<DomainSummary>, Error> {
    let doms = conn
        .list_all_domains(0)
        .map_err(|e| map_err(conn, &e, None))?;
    let mut out = Vec::with_capacity(doms.len());
    for dom in &doms {
        match summary(dom) {
            Ok(s) => out.push(s),
            Err(e) if is_code(&e, ErrorNumber::NoDomain) => {}
            Err(e) => return Err(map_err(conn, &e, None)),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.uuid.cmp(&b.uuid)));
    Ok(out)
}

/// Runs `f` on the domain `dref` and maps its error.
pub(crate) fn with_domain<T>(
    conn: &Connect,
    dref: &DomainRef,
    f: impl FnOnce(&Domain) -> Result<T, VirtError>,
) -> Result<T, Error> {
    let dom = lookup(conn, dref)?;
    f(&dom).map_err(|e| map_err(conn, &e, Some(dref)))
}

/// Starts a domain. Drivers disagree on how they report starting a running domain (the
/// test driver calls it an internal error), so that case is checked first.
pub(crate) fn start(conn: &Connect, dref: &DomainRef) -> Result<(), Error> {
    let dom = lookup(conn, dref)?;
    if dom.is_active().map_err(|e| map_err(conn, &e, Some(dref)))? {
        return Err(Error::OperationInvalid {
            message: format!("“{dref}” is already running"),
        });
    }
    dom.create().map_err(|e| map_err(conn, &e, Some(dref)))
}

/// Starts a domain from its managed save image; refuses when there is none (a plain start
/// would boot it instead, which is not what "restore" promises).
pub(crate) fn restore_managed(conn: &Connect, dref: &DomainRef) -> Result<DomainSummary, Error> {
    let dom = lookup(conn, dref)?;
    let has = dom
        .has_managed_save(0)
        .map_err(|e| map_err(conn, &e, Some(dref)))?;
    if !has {
        return Err(Error::OperationInvalid {
            message: format!("“{dref}” has no saved state to restore"),
        });
    }
    dom.create().map_err(|e| map_err(conn, &e, Some(dref)))?;
    summary_of(conn, &dom, dref)
}

/// Restores a domain from a file written by `virDomainSave` and returns its summary.
pub(crate) fn restore_from_file(conn: &Connect, path: &Path) -> Result<DomainSummary, Error> {
    let path_str = path_str(path)?;
    let xml = conn
        .save_image_xml_desc(path_str, 0)
        .map_err(|e| map_err(conn, &e, None))?;
    let uuid = xmltree::parse(&xml)
        .ok()
        .and_then(|root| root.child("uuid").map(|u| u.text().to_owned()))
        .ok_or_else(|| Error::InvalidXml {
            message: format!("the saved state in {} names no domain", path.display()),
        })?;
    conn.restore_domain(path_str)
        .map_err(|e| map_err(conn, &e, None))?;
    let dref = DomainRef::new(uuid);
    let dom = lookup(conn, &dref)?;
    summary_of(conn, &dom, &dref)
}

pub(crate) fn save_to_file(conn: &Connect, dref: &DomainRef, path: &Path) -> Result<(), Error> {
    let path_str = path_str(path)?;
    with_domain(conn, dref, |dom| ffi::save_domain(dom, path_str))
}

fn path_str(path: &Path) -> Result<&str, Error> {
    path.to_str().ok_or_else(|| Error::OperationInvalid {
        message: format!("the path {} is not valid UTF-8", path.display()),
    })
}
