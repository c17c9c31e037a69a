//! Sizes as users write them: `4GiB`, `512MiB`, `1.5G`; a bare number is MiB.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error("empty size")]
    Empty,
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("unknown unit {0:?} (use KiB, MiB, GiB or TiB)")]
    UnknownUnit(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

const KIB: u64 = 1024;
const MIB: u64 = KIB * 1024;
const GIB: u64 = MIB * 1024;
const TIB: u64 = GIB * 1024;

impl Size {
    pub fn from_kib(kib: u64) -> Self {
        Size(kib.saturating_mul(KIB))
    }

    pub fn from_mib(mib: u64) -> Self {
        Size(mib.saturating_mul(MIB))
    }

    pub fn bytes(self) -> u64 {
        self.0
    }

    /// Rounded down to whole KiB, the unit libvirt's `<memory>` uses by default.
    pub fn kib(self) -> u64 {
        self.0 / KIB
    }

    pub fn mib(self) -> u64 {
        self.0 / MIB
    }

    /// Parses `4GiB`, `512MiB`, `512M`, `2.5G`, `1048576KiB`, `100B`, `4GB` (decimal).
    /// A bare number is MiB.
    pub fn parse(text: &str) -> Result<Self, SizeError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SizeError::Empty);
        }
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let unit = unit.trim();
        let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "m" | "mi" | "mib" => MIB,
            "b" => 1,
            "k" | "ki" | "kib" => KIB,
            "g" | "gi" | "gib" => GIB,
            "t" | "ti" | "tib" => TIB,
            "kb" => 1000,
            "mb" => 1000 * 1000,
            "gb" => 1000 * 1000 * 1000,
            "tb" => 1000 * 1000 * 1000 * 1000,
            _ => return Err(SizeError::UnknownUnit(unit.to_string())),
        };
        let too_large = || SizeError::TooLarge(text.to_string());
        let bytes = match number.split_once('.') {
            None => {
                let whole: u64 = number
                    .parse()
                    .map_err(|_| SizeError::NotANumber(number.to_string()))?;
                whole.checked_mul(multiplier).ok_or_else(too_large)?
            }
            Some((whole, fraction)) => {
                let not_a_number = || SizeError::NotANumber(number.to_string());
                if fraction.is_empty() || fraction.len() > 6 || fraction.contains('.') {
                    return Err(not_a_number());
                }
                let whole: u64 = if whole.is_empty() {
                    0
                } else {
                    whole.parse().map_err(|_| not_a_number())?
                };
                let digits: u64 = fraction.parse().map_err(|_| not_a_number())?;
                let scale = 10u64.pow(fraction.len() as u32);
                let whole_bytes = whole.checked_mul(multiplier).ok_or_else(too_large)?;
                let fraction_bytes =
                    u128::from(digits) * u128::from(multiplier) / u128::from(scale);
                whole_bytes
                    .checked_add(u64::try_from(fraction_bytes).map_err(|_| too_large())?)
                    .ok_or_else(too_large)?
            }
        };
        Ok(Size(bytes))
    }
}

impl std::str::FromStr for Size {
    type Err = SizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Size::parse(s)
    }
}

impl fmt::Display for Size {
    /// The largest binary unit that keeps the value whole, else one decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [(TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")];
        for (size, name) in units {
            if self.0 >= size {
                if self.0.is_multiple_of(size) {
                    return write!(f, "{} {name}", self.0 / size);
                }
                return write!(f, "{:.1} {name}", self.0 as f64 / size as f64);
            }
        }
        write!(f, "{} B", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(Size::parse("4GiB"), Ok(Size(4 * GIB)));
        assert_eq!(Size::parse("512MiB"), Ok(Size(512 * MIB)));
        assert_eq!(Size::parse("512"), Ok(Size(512 * MIB)));
        assert_eq!(Size::parse(" 2 G "), Ok(Size(2 * GIB)));
        assert_eq!(Size::parse("1.5GiB"), Ok(Size(GIB + GIB / 2)));
        assert_eq!(Size::parse("1048576KiB"), Ok(Size(GIB)));
        assert_eq!(Size::parse("4GB"), Ok(Size(4_000_000_000)));
        assert_eq!(Size::parse("100b"), Ok(Size(100)));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(Size::parse(""), Err(SizeError::Empty));
        assert!(matches!(Size::parse("GiB"), Err(SizeError::NotANumber(_))));
        assert!(matches!(
            Size::parse("4 parsecs"),
            Err(SizeError::UnknownUnit(_))
        ));
        assert!(matches!(
            Size::parse("1.2.3G"),
            Err(SizeError::NotANumber(_))
        ));
        assert!(matches!(
            Size::parse("99999999999TiB"),
            Err(SizeError::TooLarge(_))
        ));
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!(Size(4 * GIB).to_string(), "4 GiB");
        assert_eq!(Size(1536 * MIB).to_string(), "1.5 GiB");
        assert_eq!(Size(512).to_string(), "512 B");
    }
}
