//! Outpost's domain: posts, targets, accounts, networks, and the rules that govern them.
//!
//! This crate performs no I/O (apart from the clock's timer) and knows nothing about SQLite,
//! HTTP or the GUI. Everything here is a pure function or a plain data type, so the store,
//! the engine, the networks, the CLI and the app all agree on one set of rules.

pub mod clock;
pub mod error;
pub mod ids;
pub mod media;
pub mod model;
pub mod network;
pub mod retry;
pub mod text;
pub mod time;
pub mod validate;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ErrorClass, PublishError};
pub use model::*;
pub use network::Network;
