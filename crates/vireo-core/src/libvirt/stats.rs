//! Statistics of the domains on screen (`virDomainListGetStats`).

use std::time::Instant;

use virt::connect::Connect;
use virt::error::ErrorNumber;
use virt::sys;

use super::error::Error;
use super::ffi;
use super::ops::{is_code, lookup, map_err};
use super::types::{DomainRef, DomainState, DomainStats};

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
    // NOWAIT: a domain busy with a job (a save, a migration) reports what it can at once
    // instead of holding up the owner thread. Daemons older than libvirt 4.5 reject the
    // flag: ask again without it.
    let nowait = sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
    let records = match ffi::domain_list_get_stats(&doms, wanted, nowait) {
        Err(e)
            if is_code(&e, ErrorNumber::InvalidArg)
                || is_code(&e, ErrorNumber::ArgumentUnsupported) =>
        {
            ffi::domain_list_get_stats(&doms, wanted, 0)
        }
        other => other,
    }
    .map_err(|e| map_err(conn, &e, None))?;
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
