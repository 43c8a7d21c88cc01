//! Every adapter against a mock server speaking its provider's exact
//! protocol, and the properties that hold across adapters.
//!
//! - `util`: test doubles (a silent server, a refused port, the video)
//! - `harness`: the conformance harness over mockito (the crate's tests
//!   turn on its `conformance` feature themselves)
//! - `openai`, `replicate`, `fal`, `runway`, `luma`, `veo`: one adapter each
//! - `in_process`: the suite over an in-process backend (not mockito)
//! - `x`: the X publisher
//! - `download`: streaming, truncation, caps, atomic files
//! - `secrets`: no key in errors, Debug output or logs

mod harness;
mod util;

mod download;
mod fal;
mod in_process;
mod luma;
mod openai;
mod reconcile;
mod redirect;
mod replicate;
mod runway;
mod secrets;
mod veo;
mod x;
