//! luma
