//! runway
