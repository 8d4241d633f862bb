//! outpost-testkit: fake network servers with fault injection, for tests
//! and benchmarks of Outpost's real network clients.
//!
//! Each network is a sibling module ([`bluesky`], …) that starts real HTTP
//! listeners on `127.0.0.1` and answers with the network's real wire format
//! (paths, JSON bodies, status codes, headers). Shared plumbing (HTTP
//! serving with connection control, request recording, rate limiting) lives
//! in [`common`].
//!
//! The `outpost-fake` binary runs a fake as a separate process and prints
//! its URLs as one JSON line.

pub mod bluesky;
pub mod common;
pub mod facebook;
pub mod instagram;
pub mod linkedin;
pub mod media;
pub mod pinterest;
pub mod threads;
pub mod tiktok;
pub mod x;
pub mod youtube;

pub use common::{Listener, RecordedRequest};
