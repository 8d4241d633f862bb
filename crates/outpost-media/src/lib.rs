//! outpost-media: the media pipeline between "the user picked a file" and "a network has it".
//!
//! - [`MediaLibrary`] keeps Outpost's own content-addressed copies in `<data dir>/media/`
//!   ([`MediaLibrary::add_file`], [`MediaLibrary::add_url`]), makes thumbnails and cleans up
//!   ([`MediaLibrary::collect_garbage`]).
//! - [`probe_file`] says what a file is by its content: image type and size, animation, and for
//!   MP4/MOV/WebM the duration, picture size, frame rate and codecs — without external programs.
//! - [`check_url`] checks a media URL before it is downloaded.
//! - [`Staging`] uploads files to the user's S3-compatible bucket for networks that fetch media
//!   from a public URL; [`StagingLedger`] decides when a staged object may be deleted.
//! - [`ChunkReader`] reads a file in pieces for chunked uploads with O(chunk) memory.
//!
//! This crate has no GUI, no database and no knowledge of posts: callers pass in the hashes that
//! are referenced and the phases of targets. It never moves or deletes a user's original file,
//! never writes outside the library folder, and never logs or returns a secret.

mod chunk;
mod error;
mod fetch;
mod ledger;
mod library;
mod mp4;
mod probe;
mod staging;
mod thumb;
mod webm;

pub use chunk::{Chunk, ChunkReader, MAX_CHUNK};
pub use error::MediaError;
pub use fetch::{check_url, CheckMethod, FetchOptions, UrlCheck};
pub use ledger::{StagingLedger, TargetPhase};
pub use library::{
    GcReport, LibraryItem, MediaLibrary, RemovedMedia, Thumbnail, DEFAULT_KEEP_FOR, THUMBNAIL_EDGE,
};
pub use probe::{probe_file, probe_image, MediaInfo, IMAGE_READ_LIMIT};
pub use staging::{
    StagedObject, Staging, StagingConfig, SweepReport, ACCESS_KEY_ID, DEFAULT_PRESIGN_EXPIRY,
    DEFAULT_SWEEP_AGE, SECRET_ACCESS_KEY, STAGING_ACCOUNT,
};
