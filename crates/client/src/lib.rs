//! Text-to-video API protocols (OpenAI-compatible, Replicate, fal.ai, Runway, Luma, Veo), error classification, streamed downloads, secrets, and an X publisher.
#![warn(missing_docs)]
