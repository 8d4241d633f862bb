//! The networks Outpost publishes to.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One social network. The string form (`as_str`) is stable: it is stored in SQLite, used in
/// `--to NETWORK:HANDLE`, in `OUTPOST_<NETWORK>_BASE_URL` and in JSON output.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Bluesky,
    X,
    LinkedIn,
    Pinterest,
    Facebook,
    Instagram,
    Threads,
    TikTok,
    YouTube,
}

impl Network {
    pub const ALL: [Network; 9] = [
        Network::Bluesky,
        Network::X,
        Network::LinkedIn,
        Network::Pinterest,
        Network::Facebook,
        Network::Instagram,
        Network::Threads,
        Network::TikTok,
        Network::YouTube,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Network::Bluesky => "bluesky",
            Network::X => "x",
            Network::LinkedIn => "linkedin",
            Network::Pinterest => "pinterest",
            Network::Facebook => "facebook",
            Network::Instagram => "instagram",
            Network::Threads => "threads",
            Network::TikTok => "tiktok",
            Network::YouTube => "youtube",
        }
    }

    /// The name a person reads in an error message or on a card.
    pub fn display_name(self) -> &'static str {
        match self {
            Network::Bluesky => "Bluesky",
            Network::X => "X",
            Network::LinkedIn => "LinkedIn",
            Network::Pinterest => "Pinterest",
            Network::Facebook => "Facebook",
            Network::Instagram => "Instagram",
            Network::Threads => "Threads",
            Network::TikTok => "TikTok",
            Network::YouTube => "YouTube",
        }
    }

    /// Prefix of this network's environment overrides, e.g. `OUTPOST_BLUESKY`.
    pub fn env_prefix(self) -> String {
        format!("OUTPOST_{}", self.as_str().to_ascii_uppercase())
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network '{0}' (known: bluesky, x, linkedin, pinterest, facebook, instagram, threads, tiktok, youtube)")]
pub struct UnknownNetwork(pub String);

impl FromStr for Network {
    type Err = UnknownNetwork;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Network::ALL
            .into_iter()
            .find(|n| n.as_str() == lower)
            .or(match lower.as_str() {
                "twitter" => Some(Network::X),
                "bsky" => Some(Network::Bluesky),
                _ => None,
            })
            .ok_or(UnknownNetwork(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_form_round_trips_for_every_network() {
        for n in Network::ALL {
            assert_eq!(n.as_str().parse::<Network>(), Ok(n));
            assert_eq!(
                serde_json::to_string(&n).ok(),
                Some(format!("\"{}\"", n.as_str()))
            );
        }
        assert_eq!("Twitter".parse::<Network>(), Ok(Network::X));
        assert!("myspace".parse::<Network>().is_err());
    }
}
