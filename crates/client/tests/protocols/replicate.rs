//! replicate
