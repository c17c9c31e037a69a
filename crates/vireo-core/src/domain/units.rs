//! libvirt's memory units (`unit=` attributes of `<memory>`, `<currentMemory>`, …).

use super::DomainError;

/// The number of bytes in one `unit`, as libvirt reads units: `b`/`bytes`, `KB` (1000),
/// `k`/`KiB` (1024), `MB`, `M`/`MiB`, … up to `E`/`EiB`, case-insensitively.
pub fn unit_bytes(unit: &str) -> Option<u128> {
    let lower = unit.trim().to_ascii_lowercase();
    if matches!(lower.as_str(), "b" | "byte" | "bytes") {
        return Some(1);
    }
    let mut chars = lower.chars();
    let power = match chars.next()? {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: u128 = match chars.as_str() {
        "" | "i" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    Some(base.pow(power))
}

/// Converts `value` `unit`s (KiB when `unit` is `None`) to KiB, rounding up as libvirt
/// does.
pub fn to_kib(value: u64, unit: Option<&str>) -> Result<u64, DomainError> {
    let scale = match unit {
        None => 1024,
        Some(u) => unit_bytes(u).ok_or_else(|| DomainError::InvalidValue {
            what: "memory unit".to_string(),
            value: u.to_string(),
            reason: "unknown unit".to_string(),
        })?,
    };
    let bytes = u128::from(value) * scale;
    u64::try_from(bytes.div_ceil(1024)).map_err(|_| DomainError::InvalidValue {
        what: "memory size".to_string(),
        value: value.to_string(),
        reason: "too large".to_string(),
    })
}

/// Expresses `kib` in `unit` when that is exact.
pub fn from_kib(kib: u64, unit: &str) -> Option<u64> {
    let scale = unit_bytes(unit)?;
    let bytes = u128::from(kib) * 1024;
    if bytes.is_multiple_of(scale) {
        u64::try_from(bytes / scale).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(to_kib(4, Some("GiB")).unwrap(), 4 * 1024 * 1024);
        assert_eq!(to_kib(4, Some("G")).unwrap(), 4 * 1024 * 1024);
        assert_eq!(to_kib(1, Some("MB")).unwrap(), 977);
        assert_eq!(to_kib(2048, Some("bytes")).unwrap(), 2);
        assert_eq!(to_kib(100, None).unwrap(), 100);
        assert_eq!(to_kib(100, Some("KiB")).unwrap(), 100);
        assert!(to_kib(1, Some("parsecs")).is_err());
        assert_eq!(from_kib(2 * 1024 * 1024, "GiB"), Some(2));
        assert_eq!(from_kib(1536, "MiB"), None);
        assert_eq!(from_kib(1536, "KiB"), Some(1536));
        assert_eq!(from_kib(1, "b"), Some(1024));
    }
}
