//! Undefining a domain, and deleting its disk volumes through libvirt's storage API.

use std::path::PathBuf;

use virt::connect::Connect;
use virt::error::{Error as VirtError, ErrorNumber};
use virt::sys;

use super::error::Error;
use super::ops::{is_code, lookup, map_err};
use super::types::{DomainRef, StorageNotRemoved, UndefineOptions, UndefineReport};
use super::xmltree;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
