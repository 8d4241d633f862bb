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
    /// The public bucket (S3-compatible) that Instagram, Threads, TikTok photos and Pinterest
    /// fetch media from.
    #[command(subcommand)]
    Staging(StagingCmd),
    /// Your own developer apps (client ids and secrets) for the OAuth networks.
    #[command(subcommand)]
    Apps(AppsCmd),
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
pub enum StagingCmd {
    /// Test, then save the bucket. The keys are read from stdin: the access key id on the
    /// first line, the secret access key on the second (they go to the keychain only).
    Set(StagingArgs),
    /// Test the saved bucket (writes, reads back and deletes a small object).
    Test,
    /// Show the saved bucket (never the keys).
    Show,
    /// Forget the bucket and its keys.
    Remove,
}

#[derive(Debug, Args)]
pub struct StagingArgs {
    /// e.g. https://s3.eu-central-1.amazonaws.com or https://<account>.r2.cloudflarestorage.com
    #[arg(long)]
    pub endpoint: String,
    #[arg(long)]
    pub bucket: String,
    #[arg(long, default_value = "auto")]
    pub region: String,
    /// Folder inside the bucket that Outpost owns and cleans up.
    #[arg(long, default_value = "outpost-staging")]
    pub prefix: String,
    /// The bucket's public address; without it Outpost hands out presigned links.
    #[arg(long = "public-url")]
    pub public_url: Option<String>,
    /// How long a presigned link works, in seconds.
    #[arg(long = "link-expiry", default_value_t = 86_400)]
    pub link_expiry: u64,
    /// Address objects as https://endpoint/bucket/key (MinIO, most self-hosted servers).
    #[arg(long = "path-style")]
    pub path_style: bool,
    /// Keep the saved keys (change only the settings).
    #[arg(long = "keep-keys")]
    pub keep_keys: bool,
}

#[derive(Debug, Subcommand)]
pub enum AccountsCmd {
    /// Connect an account. Bluesky: `accounts add bluesky --handle H --app-password-stdin`.
    Add(AddAccount),
    /// Connect an OAuth account in the system browser (loopback redirect, PKCE).
    Connect(ConnectArgs),
    /// List connected accounts.
    List,
    /// Remove an account (refused while it has posts waiting).
    Remove { id: String },
    /// Facebook: connect more of your Pages (see `accounts choices ID pages`), each as its
    /// own account, with the sign-in of account ID.
    AddPages { id: String, page_ids: Vec<String> },
    /// List an account's choices: `boards` (Pinterest), `organizations` (LinkedIn).
    Choices { id: String, kind: String },
    /// Set an account's default: `board_id` (Pinterest), `author` (LinkedIn organisation URN);
    /// no value clears it.
    Default {
        id: String,
        key: String,
        value: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AddAccount {
    /// The network (bluesky, x, linkedin, pinterest…).
    pub network: String,
    /// Bluesky: the account's handle.
    #[arg(long, default_value = "")]
    pub handle: String,
    /// The account's PDS (Bluesky); found from the handle when left out.
    #[arg(long)]
    pub pds: Option<String>,
    /// Read the app password from standard input (Bluesky).
    #[arg(long)]
    pub app_password_stdin: bool,
    /// OAuth networks: read tokens as JSON from standard input
    /// (`{"access_token": "…", "refresh_token": "…", "expires_in": 7200, "scope": "…"}`).
    #[arg(long)]
    pub token_stdin: bool,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The network (x, linkedin, pinterest…).
    pub network: String,
    /// Do not open the browser: print the address, then wait for the browser's callback or
    /// for the address you were sent to, pasted on standard input.
    #[arg(long)]
    pub no_browser: bool,
    /// An https relay page (docs/oauth-relay.html, hosted by you) for networks that refuse
    /// loopback redirects.
    #[arg(long)]
    pub relay: Option<String>,
    /// How long to wait for the browser, in seconds.
    #[arg(long, default_value_t = 300)]
    pub wait: u64,
    /// LinkedIn: also ask for access to the pages you administer (to post as a page).
    /// Instagram: connect through Facebook Login (an account linked to a Facebook Page).
    #[arg(long)]
    pub pages: bool,
}

#[derive(Debug, Subcommand)]
pub enum AppsCmd {
    /// Your own developer app for a network: its client id, and the client secret read from
    /// standard input with --client-secret-stdin (stored in the keychain only).
    Set {
        network: String,
        #[arg(long = "client-id")]
        client_id: String,
        #[arg(long = "client-secret-stdin")]
        client_secret_stdin: bool,
    },
    /// Client ids per network, and whether a secret is stored (never the secret).
    List,
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
