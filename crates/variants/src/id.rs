//! Stable content ids for variants and base prompts.
//!
//! An id is a SHA-256 over a length-prefixed, little-endian encoding of the
//! content, so it is the same on every machine and every version of Rust, and
//! two different contents cannot share an encoding (only a SHA-256 collision
//! could give them one id). The encodings are versioned by a domain tag: a
//! change to them is a change of the tag, never a silent change of ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::{Error, Mutation};

/// The id of a variant: 128 bits of a SHA-256 over (base prompt, prompt,
/// ordered mutations, seed), written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VariantId([u8; 16]);

impl VariantId {
    /// The id of the variant with this content.
    pub fn of(base_prompt: &str, prompt: &str, mutations: &[Mutation], seed: u64) -> Self {
        let mut h = Encoder::new("framebreak/variant/v1");
        h.bytes(base_prompt.as_bytes());
        h.bytes(prompt.as_bytes());
        h.u64(mutations.len() as u64);
        for m in mutations {
            h.bytes(m.mutator.as_bytes());
            h.bytes(m.trap.as_ref().map_or("", |t| t.as_str()).as_bytes());
            h.bytes(m.demand.as_deref().unwrap_or("").as_bytes());
            h.bytes(m.text.as_bytes());
        }
        h.u64(seed);
        VariantId(h.finish())
    }

    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for VariantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for VariantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VariantId({self})")
    }
}

impl FromStr for VariantId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidConfig {
            what: "variant id",
            problem: format!("`{s}` is not 32 lowercase hex digits"),
        };
        if s.len() != 32 {
            return Err(invalid());
        }
        let mut out = [0u8; 16];
        for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
            let hex = std::str::from_utf8(pair).map_err(|_| invalid())?;
            if hex.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(invalid());
            }
            out[i] = u8::from_str_radix(hex, 16).map_err(|_| invalid())?;
        }
        Ok(VariantId(out))
    }
}

impl Serialize for VariantId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VariantId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The id of a base prompt given without one: `p` and 12 hex digits of a
/// SHA-256 of its text.
pub(crate) fn base_id(prompt: &str) -> String {
    let mut h = Encoder::new("framebreak/base/v1");
    h.bytes(prompt.as_bytes());
    let digest = h.finish();
    let mut id = String::with_capacity(13);
    id.push('p');
    for b in &digest[..6] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// A fingerprint of a base prompt's text, to drop repeated prompts.
pub(crate) fn prompt_fingerprint(prompt: &str) -> [u8; 16] {
    let mut h = Encoder::new("framebreak/prompt/v1");
    h.bytes(prompt.as_bytes());
    h.finish()
}

/// The 32-byte seed of the random stream for one attempt at one variant;
/// `key` is the base prompt's fingerprint (or empty).
pub(crate) fn stream_seed(domain: &str, seed: u64, key: &[u8], counter: u64) -> [u8; 32] {
    let mut h = Encoder::new(domain);
    h.u64(seed);
    h.bytes(key);
    h.u64(counter);
    h.0.finalize().into()
}

/// Length-prefixed, little-endian encoding into SHA-256.
struct Encoder(Sha256);

impl Encoder {
    fn new(domain: &str) -> Self {
        let mut e = Encoder(Sha256::new());
        e.bytes(domain.as_bytes());
        e
    }

    fn u64(&mut self, v: u64) {
        self.0.update(v.to_le_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.update(b);
    }

    fn finish(self) -> [u8; 16] {
        let digest = self.0.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden values: if one of these changes, every id users have stored
    // changes with it. Change the domain tag instead.
    #[test]
    fn ids_are_stable() {
        let id = VariantId::of("A ball is thrown", "A ball is thrown", &[], 7);
        assert_eq!(id.to_string(), "b527a2f2ca159ed148f0e6d643fb8483");
        assert_eq!(base_id("A ball is thrown"), "pe304196b7e47");
    }

    #[test]
    fn id_parses_back() {
        let id = VariantId::of("a", "b", &[], 1);
        assert_eq!(id.to_string().parse::<VariantId>().unwrap(), id);
        assert!("xyz".parse::<VariantId>().is_err());
        assert!(id.to_string().to_uppercase().parse::<VariantId>().is_err());
    }

    #[test]
    fn length_prefixes_keep_fields_apart() {
        assert_ne!(
            VariantId::of("ab", "c", &[], 0),
            VariantId::of("a", "bc", &[], 0)
        );
    }
}
