//! veo
