//! Blocking operations on one `virt::Connect`. They run on the connection's owner thread or
//! job thread, never on a caller's thread.

use std::path::{Path, PathBuf};
use std::time::Instant;

use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::{Error as VirtError, ErrorNumber};
use virt::sys;

use super::error::Error;
use super::ffi;
use super::types::{
    DomainRef, DomainState, DomainStats, DomainSummary, StorageNotRemoved, UndefineOptions,
    UndefineReport,
};
use super::xmltree;

/// Maps a libvirt error, turning failures of a connection that is no longer alive into
/// [`Error::ConnectionLost`].
pub(crate) fn map_err(conn: &Connect, err: &VirtError, subject: Option<&DomainRef>) -> Error {
    if !conn.is_alive().unwrap_or(false) {
        return Error::ConnectionLost;
    }
    Error::from_virt(err, subject)
}

fn is_code(err: &VirtError, code: ErrorNumber) -> bool {
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

/// A disk of a domain, as its XML names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DiskSource {
    Path(PathBuf),
    Volume { pool: String, volume: String },
}

/// The sources of the domain's `device='disk'` disks (CD-ROMs and floppies are install
/// media and are never deleted with a VM).
pub(crate) fn disk_sources(domain_xml: &str) -> Result<Vec<DiskSource>, Error> {
    let root = xmltree::parse(domain_xml).map_err(|message| Error::InvalidXml { message })?;
    let Some(devices) = root.child("devices") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for disk in devices.children_named("disk") {
        if disk.attr("device").unwrap_or("disk") != "disk" {
            continue;
        }
        let Some(source) = disk.child("source") else {
            continue;
        };
        match disk.attr("type").unwrap_or("file") {
            "file" => {
                if let Some(f) = source.attr("file") {
                    out.push(DiskSource::Path(PathBuf::from(f)));
                }
            }
            "block" => {
                if let Some(d) = source.attr("dev") {
                    out.push(DiskSource::Path(PathBuf::from(d)));
                }
            }
            "volume" => {
                if let (Some(pool), Some(volume)) = (source.attr("pool"), source.attr("volume")) {
                    out.push(DiskSource::Volume {
                        pool: pool.to_owned(),
                        volume: volume.to_owned(),
                    });
                }
            }
            // Network disks and others are not volumes Vireo could delete.
            _ => {}
        }
    }
    Ok(out)
}

/// Undefines a domain and, if asked, deletes its disk volumes through libvirt.
pub(crate) fn undefine(
    conn: &Connect,
    dref: &DomainRef,
    options: UndefineOptions,
) -> Result<UndefineReport, Error> {
    let dom = lookup(conn, dref)?;
    let map = |e: VirtError| map_err(conn, &e, Some(dref));
    let disks = if options.remove_storage {
        if dom.is_active().map_err(map)? {
            return Err(Error::OperationInvalid {
                message: format!(
                    "“{dref}” is running: shut it down before deleting it with its storage"
                ),
            });
        }
        let xml = dom.xml_desc(sys::VIR_DOMAIN_XML_INACTIVE).map_err(map)?;
        disk_sources(&xml)?
    } else {
        Vec::new()
    };

    let mut flags = if options.nvram {
        sys::VIR_DOMAIN_UNDEFINE_NVRAM
    } else {
        sys::VIR_DOMAIN_UNDEFINE_KEEP_NVRAM
    };
    if options.managed_save {
        flags |= sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE;
    }
    match dom.undefine_flags(flags) {
        Ok(()) => {}
        // Drivers without NVRAM support reject the NVRAM flags: retry without them.
        Err(e)
            if is_code(&e, ErrorNumber::InvalidArg)
                || is_code(&e, ErrorNumber::NoSupport)
                || is_code(&e, ErrorNumber::ArgumentUnsupported) =>
        {
            let fallback =
                flags & !(sys::VIR_DOMAIN_UNDEFINE_NVRAM | sys::VIR_DOMAIN_UNDEFINE_KEEP_NVRAM);
            dom.undefine_flags(fallback).map_err(map)?;
        }
        Err(e) => return Err(map(e)),
    }

    let mut report = UndefineReport::default();
    for disk in disks {
        match delete_volume(conn, &disk) {
            Ok(path) => report.removed.push(path),
            Err((path, reason)) => report.not_removed.push(StorageNotRemoved { path, reason }),
        }
    }
    Ok(report)
}

/// Deletes the volume behind a disk source; on failure returns its path and why.
fn delete_volume(conn: &Connect, disk: &DiskSource) -> Result<PathBuf, (PathBuf, String)> {
    let vol = match disk {
        DiskSource::Path(path) => {
            let display = path.clone();
            let Some(p) = path.to_str() else {
                return Err((display, "the path is not valid UTF-8".to_owned()));
            };
            let found = conn.lookup_storage_vol_by_path(p).ok().or_else(|| {
                // The file may be in a pool that was not refreshed since it was created.
                let dir = path.parent()?.to_str()?;
                let pool = conn.lookup_storage_pool_by_target_path(dir).ok()?;
                pool.refresh(0).ok()?;
                conn.lookup_storage_vol_by_path(p).ok()
            });
            match found {
                Some(v) => v,
                None => {
                    return Err((
                        display,
                        "it is not a volume of any libvirt storage pool".to_owned(),
                    ));
                }
            }
        }
        DiskSource::Volume { pool, volume } => {
            let shown = PathBuf::from(format!("{pool}/{volume}"));
            let pool_obj = conn
                .lookup_storage_pool_by_name(pool)
                .map_err(|e| (shown.clone(), e.message().to_owned()))?;
            pool_obj
                .lookup_storage_vol_by_name(volume)
                .map_err(|e| (shown.clone(), e.message().to_owned()))?
        }
    };
    let path = vol
        .path()
        .map(PathBuf::from)
        .unwrap_or_else(|_| match disk {
            DiskSource::Path(p) => p.clone(),
            DiskSource::Volume { pool, volume } => PathBuf::from(format!("{pool}/{volume}")),
        });
    match vol.delete(0) {
        Ok(()) => Ok(path),
        Err(e) => Err((path, e.message().to_owned())),
    }
}

/// Statistics of exactly the domains asked; domains that no longer exist are left out.
pub(crate) fn stats(conn: &Connect, refs: &[DomainRef]) -> Result<Vec<DomainStats>, Error> {
    let mut doms = Vec::with_capacity(refs.len());
    for r in refs {
        match lookup(conn, r) {
            Ok(d) => doms.push(d),
            Err(Error::NoSuchDomain(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let wanted = sys::VIR_DOMAIN_STATS_STATE
        | sys::VIR_DOMAIN_STATS_CPU_TOTAL
        | sys::VIR_DOMAIN_STATS_BALLOON
        | sys::VIR_DOMAIN_STATS_VCPU
        | sys::VIR_DOMAIN_STATS_INTERFACE
        | sys::VIR_DOMAIN_STATS_BLOCK;
    let records =
        ffi::domain_list_get_stats(&doms, wanted, 0).map_err(|e| map_err(conn, &e, None))?;
    let sampled_at = Instant::now();
    Ok(records
        .into_iter()
        .map(|rec| stats_from_record(rec, sampled_at))
        .collect())
}

fn stats_from_record(rec: ffi::StatsRecord, sampled_at: Instant) -> DomainStats {
    let mut s = DomainStats {
        uuid: rec.uuid,
        name: rec.name,
        state: DomainState::NoState,
        cpu_time_ns: None,
        vcpus: None,
        balloon_current_kib: None,
        balloon_maximum_kib: None,
        block_read_bytes: None,
        block_write_bytes: None,
        net_rx_bytes: None,
        net_tx_bytes: None,
        sampled_at,
    };
    fn add(total: &mut Option<u64>, v: u64) {
        *total = Some(total.unwrap_or(0).saturating_add(v));
    }
    for (field, value) in &rec.params {
        let Some(v) = value.as_u64() else { continue };
        match field.as_str() {
            "state.state" => s.state = DomainState::from_raw(u32::try_from(v).unwrap_or(0)),
            "cpu.time" => s.cpu_time_ns = Some(v),
            "vcpu.current" => s.vcpus = u32::try_from(v).ok(),
            "balloon.current" => s.balloon_current_kib = Some(v),
            "balloon.maximum" => s.balloon_maximum_kib = Some(v),
            f => {
                // Per-device counters: block.<n>.rd.bytes, net.<n>.rx.bytes, ...
                let mut parts = f.splitn(3, '.');
                let (Some(kind), Some(index), Some(rest)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                if index.parse::<u32>().is_err() {
                    continue;
                }
                match (kind, rest) {
                    ("block", "rd.bytes") => add(&mut s.block_read_bytes, v),
                    ("block", "wr.bytes") => add(&mut s.block_write_bytes, v),
                    ("net", "rx.bytes") => add(&mut s.net_rx_bytes, v),
                    ("net", "tx.bytes") => add(&mut s.net_tx_bytes, v),
                    _ => {}
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::libvirt::ffi::{StatsRecord, TypedValue};

    #[test]
    fn disk_sources_skip_cdroms_and_network_disks() {
        let xml = r#"<domain type='kvm'><name>x</name><devices>
            <disk type='file' device='disk'><source file='/var/lib/libvirt/images/a.qcow2'/></disk>
            <disk type='file' device='cdrom'><source file='/iso/debian.iso'/></disk>
            <disk type='block' device='disk'><source dev='/dev/vg/b'/></disk>
            <disk type='volume' device='disk'><source pool='default' volume='c.qcow2'/></disk>
            <disk type='network' device='disk'><source protocol='rbd' name='p/d'/></disk>
            <disk type='file' device='disk'/>
        </devices></domain>"#;
        assert_eq!(
            disk_sources(xml).unwrap(),
            vec![
                DiskSource::Path("/var/lib/libvirt/images/a.qcow2".into()),
                DiskSource::Path("/dev/vg/b".into()),
                DiskSource::Volume {
                    pool: "default".into(),
                    volume: "c.qcow2".into()
                },
            ]
        );
    }

    #[test]
    fn stats_sum_devices() {
        let rec = StatsRecord {
            uuid: "u".into(),
            name: "n".into(),
            params: vec![
                ("state.state".into(), TypedValue::Int(1)),
                ("cpu.time".into(), TypedValue::UInt(5_000)),
                ("vcpu.current".into(), TypedValue::UInt(2)),
                ("balloon.current".into(), TypedValue::UInt(1024)),
                ("block.count".into(), TypedValue::UInt(2)),
                ("block.0.name".into(), TypedValue::Str("vda".into())),
                ("block.0.rd.bytes".into(), TypedValue::UInt(10)),
                ("block.1.rd.bytes".into(), TypedValue::UInt(5)),
                ("block.0.wr.bytes".into(), TypedValue::UInt(7)),
                ("net.0.rx.bytes".into(), TypedValue::UInt(3)),
                ("net.0.tx.bytes".into(), TypedValue::UInt(4)),
            ],
        };
        let s = stats_from_record(rec, Instant::now());
        assert_eq!(s.state, DomainState::Running);
        assert_eq!(s.cpu_time_ns, Some(5_000));
        assert_eq!(s.vcpus, Some(2));
        assert_eq!(s.balloon_current_kib, Some(1024));
        assert_eq!(s.balloon_maximum_kib, None);
        assert_eq!(s.block_read_bytes, Some(15));
        assert_eq!(s.block_write_bytes, Some(7));
        assert_eq!(s.net_rx_bytes, Some(3));
        assert_eq!(s.net_tx_bytes, Some(4));
    }
}
