//! fal
