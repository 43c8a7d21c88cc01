//! Device names: `cpu` and `cuda:N`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A compute device, written `cpu` or `cuda:N` in configs, flags and JSON.
///
/// ```
/// use framebreak_gpu::DeviceId;
///
/// assert_eq!("cuda:1".parse::<DeviceId>()?, DeviceId::Cuda(1));
/// assert_eq!(DeviceId::Cpu.to_string(), "cpu");
/// assert!("gpu0".parse::<DeviceId>().is_err());
/// # Ok::<(), framebreak_gpu::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceId {
    /// The host CPU (all its cores count as one device).
    Cpu,
    /// A CUDA device by ordinal, as CUDA and NVML number them.
    Cuda(u32),
}

impl DeviceId {
    /// Whether this is a CUDA device.
    pub fn is_cuda(self) -> bool {
        matches!(self, DeviceId::Cuda(_))
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceId::Cpu => f.write_str("cpu"),
            DeviceId::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl FromStr for DeviceId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidDeviceId {
            input: s.to_owned(),
        };
        let lower = s.trim().to_ascii_lowercase();
        if lower == "cpu" {
            return Ok(DeviceId::Cpu);
        }
        let ordinal = lower.strip_prefix("cuda:").ok_or_else(invalid)?;
        // Digits only: `u32::from_str` would accept a leading `+`.
        if ordinal.is_empty() || !ordinal.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        ordinal.parse().map(DeviceId::Cuda).map_err(|_| invalid())
    }
}

impl TryFrom<String> for DeviceId {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> String {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for text in ["cpu", "cuda:0", "cuda:7", "cuda:4294967295"] {
            let id: DeviceId = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
        }
        assert_eq!("CUDA:2".parse::<DeviceId>().unwrap(), DeviceId::Cuda(2));
    }

    #[test]
    fn rejects_malformed_names() {
        for text in [
            "",
            "gpu",
            "cuda",
            "cuda:",
            "cuda:-1",
            "cuda:+1",
            "cuda:x",
            "cuda:4294967296",
            "cpu:0",
        ] {
            let err = text.parse::<DeviceId>().unwrap_err();
            assert!(
                matches!(err, Error::InvalidDeviceId { ref input } if input == text),
                "{text}: {err}"
            );
            assert!(err.to_string().contains("cuda:N"));
        }
    }

    #[test]
    fn serde_uses_the_text_form() {
        assert_eq!(
            serde_json::to_string(&DeviceId::Cuda(3)).unwrap(),
            "\"cuda:3\""
        );
        assert_eq!(
            serde_json::from_str::<DeviceId>("\"cpu\"").unwrap(),
            DeviceId::Cpu
        );
        assert!(serde_json::from_str::<DeviceId>("\"tpu\"").is_err());
    }
}
