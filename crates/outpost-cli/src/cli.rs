//! The command line's shape. This is a stable contract: scripts and tests depend on it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "outpost",
    version,
    about = "Write once, publish everywhere, from your own machine."
)]
pub struct Cli {
    /// Where Outpost keeps its database, logs and (with the file store) secrets.
    #[arg(long, global = true, env = "OUTPOST_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print machine-readable JSON (documented in README.md).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connected accounts.
    #[command(subcommand)]
    Accounts(AccountsCmd),
    /// Write a post and schedule it (prints the post id).
    Post(PostArgs),
    /// Scheduled and published posts.
    #[command(subcommand)]
    Posts(PostsCmd),
    /// The media library: files and URLs copied into the data directory, probed.
    #[command(subcommand)]
    Media(MediaCmd),
    /// Run the dispatcher without a window.
    Agent(AgentArgs),
    /// Runner health, queue depth, next due post, open breakers, quotas.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum MediaCmd {
    /// Add a file or an https URL (checked now, downloaded now); prints the media id.
    Add { source: String },
    /// List the library.
    List,
    /// What probing found about one file.
    Show { id: String },
}

#[derive(Debug, Subcommand)]
pub enum AccountsCmd {
    /// Connect an account. Bluesky: `accounts add bluesky --handle H --app-password-stdin`.
    Add(AddAccount),
    /// List connected accounts.
    List,
    /// Remove an account (refused while it has posts waiting).
    Remove { id: String },
}

#[derive(Debug, Args)]
pub struct AddAccount {
    /// The network (bluesky).
    pub network: String,
    #[arg(long)]
    pub handle: String,
    /// The account's PDS (Bluesky); found from the handle when left out.
    #[arg(long)]
    pub pds: Option<String>,
    /// Read the app password from standard input.
    #[arg(long)]
    pub app_password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct PostArgs {
    /// The text (the first part of a thread).
    pub text: Option<String>,
    /// Where to publish: NETWORK:HANDLE (repeat for several accounts).
    #[arg(long = "to", value_name = "NETWORK:HANDLE")]
    pub to: Vec<String>,
    /// When: RFC 3339 (2026-12-01T09:30:00+01:00) or local time (2026-12-01 09:30).
    #[arg(long, conflicts_with = "now")]
    pub at: Option<String>,
    /// Publish as soon as possible.
    #[arg(long)]
    pub now: bool,
    /// The IANA time zone local times are read in (default: settings, then the system's).
    #[arg(long)]
    pub tz: Option<String>,
    /// A media file for the first part: a path, an https URL or a media id (repeatable).
    #[arg(long = "media", value_name = "PATH|URL|ID")]
    pub media: Vec<String>,
    /// Alt text for the media, in the same order (repeatable).
    #[arg(long = "alt", value_name = "TEXT")]
    pub alt: Vec<String>,
    /// A further thread part (repeatable, in order).
    #[arg(long = "part", value_name = "TEXT")]
    pub parts: Vec<String>,
    /// Save without scheduling.
    #[arg(long)]
    pub draft: bool,
    /// A comment posted under the post right after it goes out (where the network has one).
    #[arg(long = "first-comment", value_name = "TEXT")]
    pub first_comment: Option<String>,
    /// A per-network option, `NETWORK.FIELD=VALUE` or `NETWORK:HANDLE.FIELD=VALUE`
    /// (e.g. `pinterest.board_id=123`, `pinterest.title="Autumn"`); repeatable.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum PostsCmd {
    /// List posts, newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// One post with every network's state, link and error.
    Show { id: String },
    /// Cancel what has not gone out yet.
    Cancel { id: String },
    /// Publish failed, missed or unconfirmed networks again ("Post again").
    Retry {
        id: String,
        #[arg(long = "to", value_name = "NETWORK:HANDLE")]
        to: Option<String>,
    },
    /// Say that an unconfirmed network did publish ("It was posted").
    Confirm {
        id: String,
        #[arg(long = "to", value_name = "NETWORK:HANDLE")]
        to: String,
    },
    /// Move a post to another time.
    Reschedule {
        id: String,
        #[arg(long)]
        at: String,
        #[arg(long)]
        tz: Option<String>,
    },
    /// Delete a post.
    Delete { id: String },
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Publish what is due now, let it settle (retries due within a minute), then exit.
    #[arg(long)]
    pub once: bool,
    /// How many targets may be in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}
