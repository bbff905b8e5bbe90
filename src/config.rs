//! Typed configuration, loaded once at start-up: the environment (and `.env`) and the sources
//! file. Every bad value becomes one [`ConfigError`] line naming where it came from, the field
//! and what is wrong.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use url::Url;

use crate::domain::{Format, SourceId};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://briefbot.db";
pub const DEFAULT_SOURCES_PATH: &str = "sources.toml";
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(600);

/// A configuration problem, displayed as `origin: field: message` on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {field}: {message}")]
pub struct ConfigError {
    /// `environment` or the sources file's path.
    pub origin: String,
    pub field: String,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn env(field: &str, message: impl Into<String>) -> Self {
        Self {
            origin: "environment".into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A value that must never be printed: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Which database `DATABASE_URL` names. `Debug` and `Display` hide any password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.starts_with("sqlite:") {
            Ok(Self::Sqlite(s.to_owned()))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self::Postgres(s.to_owned()))
        } else {
            Err("expected a URL starting with sqlite:// or postgres://".into())
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

impl fmt::Display for DatabaseUrl {
    /// Shows the URL without any password it may carry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(s) => f.write_str(s),
            Self::Postgres(s) => match Url::parse(s) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("redacted"));
                    }
                    f.write_str(url.as_str())
                }
                Err(_) => f.write_str("postgres://[unparsable]"),
            },
        }
    }
}

/// Reads `.env` from the working directory, if there is one, into the process environment;
/// variables already set win.
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(ConfigError {
            origin: ".env".into(),
            field: "file".into(),
            message: e.to_string().replace('\n', " "),
        }),
    }
}

/// Settings from the environment, as README: Configuration lists them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub discord_token: Option<Secret>,
    pub database_url: DatabaseUrl,
    pub sources_path: PathBuf,
    /// Whether `BRIEFBOT_SOURCES` was set, so a missing file is worth a warning.
    pub sources_path_explicit: bool,
    pub guild_id: Option<u64>,
    pub api_proxy: Option<Url>,
    pub http_addr: Option<SocketAddr>,
    pub shards: Shards,
    /// `BRIEFBOT_LEASE_TTL`: how long the scheduler lease lasts unrenewed.
    pub lease: crate::leader::LeaseSettings,
    /// Not read from the environment: the worker's pacing and retries (Discord's limits), which
    /// tests shorten.
    pub delivery: crate::deliver::DeliverySettings,
    /// Not read from the environment: the scraper's timeouts and size caps, which tests shorten.
    pub fetch: crate::scrape::fetch::FetchLimits,
}

/// Which gateway shards this process runs (`BRIEFBOT_SHARDS`, README: Configuration and
/// Deployment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shards {
    /// Every shard Discord recommends (`GET /gateway/bot`), all in this process.
    #[default]
    Auto,
    /// Shards `first` through `last` (inclusive) of `total`.
    Range { first: u32, last: u32, total: u32 },
}

impl Shards {
    /// `auto`, `I/N` (shard I of N) or `A-B/N` (shards A through B of N).
    pub fn parse(text: &str) -> Result<Self, String> {
        let s = text.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        let bad = || {
            format!(
                "'{s}' is not 'auto', a shard like '1/4' (shard 1 of 4) or a range like '0-3/8'"
            )
        };
        let number = |n: &str| n.trim().parse::<u32>().map_err(|_| bad());
        let (range, total) = s.split_once('/').ok_or_else(bad)?;
        let total = number(total)?;
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let n = number(range)?;
                (n, n)
            }
        };
        if total == 0 {
            return Err(format!("'{s}': the number of shards must be at least 1"));
        }
        if first > last {
            return Err(format!("'{s}': the range {first}-{last} runs backwards"));
        }
        if last >= total {
            return Err(format!(
                "'{s}': there is no shard {last} of {total} (they are numbered 0 to {})",
                total - 1
            ));
        }
        Ok(Self::Range { first, last, total })
    }
}

impl Settings {
    /// Reads the settings from the process environment (call [`load_dotenv`] first).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |key: &str| get(key).filter(|v| !v.trim().is_empty());

        let discord_token = get("DISCORD_TOKEN").map(|t| Secret::new(t.trim().to_owned()));
        let database_url = match get("DATABASE_URL") {
            Some(v) => {
                DatabaseUrl::parse(v.trim()).map_err(|m| ConfigError::env("DATABASE_URL", m))?
            }
            None => DatabaseUrl::Sqlite(DEFAULT_DATABASE_URL.into()),
        };
        let sources_var = get("BRIEFBOT_SOURCES");
        let guild_id = get("BRIEFBOT_GUILD_ID")
            .map(|v| match v.trim().parse::<u64>() {
                Ok(id) if id > 0 => Ok(id),
                _ => Err(ConfigError::env(
                    "BRIEFBOT_GUILD_ID",
                    format!("'{v}' is not a Discord server id (a positive number)"),
                )),
            })
            .transpose()?;
        let api_proxy = get("DISCORD_API_PROXY")
            .map(|v| match Url::parse(v.trim()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
                _ => Err(ConfigError::env(
                    "DISCORD_API_PROXY",
                    format!("'{v}' is not a base URL like http://host:port"),
                )),
            })
            .transpose()?;
        let http_addr = get("BRIEFBOT_HTTP_ADDR")
            .map(|v| {
                v.trim().parse::<SocketAddr>().map_err(|_| {
                    ConfigError::env(
                        "BRIEFBOT_HTTP_ADDR",
                        format!("'{v}' is not an address like 127.0.0.1:8080"),
                    )
                })
            })
            .transpose()?;
        let shards = get("BRIEFBOT_SHARDS")
            .map(|v| Shards::parse(&v).map_err(|m| ConfigError::env("BRIEFBOT_SHARDS", m)))
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            discord_token,
            database_url,
            sources_path_explicit: sources_var.is_some(),
            sources_path: PathBuf::from(sources_var.unwrap_or_else(|| DEFAULT_SOURCES_PATH.into())),
            guild_id,
            api_proxy,
            http_addr,
            shards,
            lease: crate::leader::LeaseSettings::from_lookup(get)?,
            delivery: crate::deliver::DeliverySettings::default(),
            fetch: crate::scrape::fetch::FetchLimits::default(),
        })
    }
}

/// One news source, validated.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub id: SourceId,
    pub name: String,
    pub list_url: Url,
    pub format: Format,
    pub poll_every: Duration,
    /// Which list entries are issues; `None` takes every entry.
    pub title_filter: Option<Regex>,
    /// Whether this source's pages may be fetched from private addresses (loopback, link-local,
    /// private and unique-local ranges). Also true in effect when the list URL is on one.
    pub allow_private: bool,
}

impl SourceConfig {
    /// The built-in source, used when no sources file exists: AI Times' daily 뉴스 브리핑.
    pub fn aitimes_briefing() -> Self {
        Self {
            id: SourceId::parse("aitimes-briefing").expect("valid id"),
            name: "AI타임스 뉴스 브리핑".into(),
            list_url: Url::parse(
                "https://www.aitimes.com/news/articleList.html?sc_sub_section_code=S2N110&view_type=sm",
            )
            .expect("valid URL"),
            format: Format::Ndsoft,
            poll_every: DEFAULT_POLL_EVERY,
            title_filter: Some(Regex::new(r"^\[\d{1,2}월\s*\d{1,2}일\]").expect("valid regex")),
            allow_private: false,
        }
    }

    pub fn accepts_title(&self, title: &str) -> bool {
        self.title_filter
            .as_ref()
            .is_none_or(|re| re.is_match(title.trim()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    sources: Vec<RawSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: String,
    name: Option<String>,
    list_url: String,
    format: Option<String>,
    poll_every: Option<String>,
    title_filter: Option<String>,
    allow_private: Option<bool>,
}

/// Loads the sources file, or the built-in source when it does not exist.
pub fn load_sources(path: &Path) -> Result<Vec<SourceConfig>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_sources(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(vec![SourceConfig::aitimes_briefing()])
        }
        Err(e) => Err(ConfigError {
            origin: path.display().to_string(),
            field: "file".into(),
            message: e.to_string(),
        }),
    }
}

/// Parses a sources file's text; `origin` names it in errors.
pub fn parse_sources(text: &str, origin: &str) -> Result<Vec<SourceConfig>, ConfigError> {
    let err = |field: String, message: String| ConfigError {
        origin: origin.to_owned(),
        field,
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let field = match e.span() {
            Some(span) => {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {column}")
            }
            None => "file".into(),
        };
        err(field, e.message().trim().replace('\n', " "))
    })?;
    if raw.sources.is_empty() {
        return Err(err(
            "sources".into(),
            "no [[sources]] entries; delete the file to use the built-in AI Times source".into(),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.sources.len());
    for (i, s) in raw.sources.into_iter().enumerate() {
        let field = |name: &str| format!("sources[{i}].{name}");
        let id = SourceId::parse(&s.id).map_err(|m| err(field("id"), m))?;
        if !seen.insert(id.clone()) {
            return Err(err(
                field("id"),
                format!("'{id}' is used by another source"),
            ));
        }
        let list_url = Url::parse(&s.list_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| {
                err(
                    field("list_url"),
                    format!("'{}' is not an http(s) URL", s.list_url),
                )
            })?;
        let format = match s.format {
            Some(f) => f.parse::<Format>().map_err(|m| err(field("format"), m))?,
            None => Format::Auto,
        };
        let poll_every = match s.poll_every {
            Some(p) => {
                let d = humantime::parse_duration(&p).map_err(|e| {
                    err(
                        field("poll_every"),
                        format!("'{p}' is not a duration like \"10m\": {e}"),
                    )
                })?;
                if d < Duration::from_secs(1) {
                    return Err(err(
                        field("poll_every"),
                        format!("'{p}' is shorter than the minimum of 1s"),
                    ));
                }
                d
            }
            None => DEFAULT_POLL_EVERY,
        };
        let title_filter = s
            .title_filter
            .map(|re| {
                Regex::new(&re).map_err(|e| {
                    let detail = e.to_string().replace('\n', " ");
                    err(field("title_filter"), format!("invalid regex: {detail}"))
                })
            })
            .transpose()?;
        let name = s
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| id.to_string());
        out.push(SourceConfig {
            id,
            name,
            list_url,
            format,
            poll_every,
            title_filter,
            allow_private: s.allow_private.unwrap_or(false),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const GOOD: &str = r#"
[[sources]]
id = "aitimes-briefing"
name = "AI타임스 뉴스 브리핑"
list_url = "https://www.aitimes.com/news/articleList.html?sc_sub_section_code=S2N110&view_type=sm"
format = "ndsoft"
poll_every = "10m"
title_filter = '^\[\d{1,2}월\s*\d{1,2}일\]'

[[sources]]
id = "feed"
list_url = "https://example.com/rss.xml"
format = "rss"
allow_private = true
"#;

    #[test]
    fn a_good_file_parses_with_defaults() {
        let s = parse_sources(GOOD, "sources.toml").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].format, Format::Ndsoft);
        assert!(s[0].accepts_title("[8월21일] 오픈AI가"));
        assert!(!s[0].accepts_title("[게시판] 단신"));
        assert_eq!(s[1].name, "feed");
        assert_eq!(s[1].poll_every, DEFAULT_POLL_EVERY);
        assert!(s[1].accepts_title("anything"));
        assert!(
            !s[0].allow_private,
            "private addresses are refused unless allowed"
        );
        assert!(s[1].allow_private);
    }

    fn error_of(text: &str) -> String {
        parse_sources(text, "sources.toml").unwrap_err().to_string()
    }

    #[test]
    fn each_bad_value_names_file_field_and_problem() {
        let base = "[[sources]]\nid = \"a\"\nlist_url = \"https://e.com/\"\n";
        let cases = [
            (
                "[[sources]]\nid = \"Bad Id\"\nlist_url = \"https://e.com/\"\n".to_string(),
                "sources.toml: sources[0].id: 'Bad Id' may contain only",
            ),
            (
                format!("{base}poll_every = \"500ms\"\n"),
                "sources.toml: sources[0].poll_every: '500ms' is shorter",
            ),
            (
                format!("{base}poll_every = \"soon\"\n"),
                "sources.toml: sources[0].poll_every: 'soon' is not a duration",
            ),
            (
                format!("{base}format = \"html\"\n"),
                "sources.toml: sources[0].format: unknown format 'html'",
            ),
            (
                format!("{base}title_filter = \"([\"\n"),
                "sources.toml: sources[0].title_filter: invalid regex",
            ),
            (
                "[[sources]]\nid = \"a\"\nlist_url = \"ftp://e.com/\"\n".to_string(),
                "sources.toml: sources[0].list_url: 'ftp://e.com/' is not an http(s) URL",
            ),
            (
                format!("{base}{base}"),
                "sources.toml: sources[1].id: 'a' is used by another source",
            ),
            (
                format!("{base}allow_private = \"yes\"\n"),
                "sources.toml: line 4, column 17: invalid type: string \"yes\", expected a boolean",
            ),
            (
                format!("{base}colour = 1\n"),
                "sources.toml: line 4, column 1: unknown field",
            ),
            ("[[sources]\n".to_string(), "sources.toml: line 1"),
            ("".to_string(), "sources.toml: sources: no [[sources]]"),
        ];
        for (text, want) in cases {
            let got = error_of(&text);
            assert!(
                got.starts_with(want),
                "for {text:?}\n got: {got}\nwant: {want}"
            );
            assert!(!got.contains('\n'), "error must be one line: {got:?}");
        }
    }

    #[test]
    fn shard_ranges_parse_and_bad_ones_say_what_is_accepted() {
        assert_eq!(Shards::parse("auto"), Ok(Shards::Auto));
        assert_eq!(Shards::parse(" AUTO "), Ok(Shards::Auto));
        assert_eq!(
            Shards::parse("1/3"),
            Ok(Shards::Range {
                first: 1,
                last: 1,
                total: 3
            })
        );
        assert_eq!(
            Shards::parse("0-3/8"),
            Ok(Shards::Range {
                first: 0,
                last: 3,
                total: 8
            })
        );
        assert_eq!(
            Shards::parse("0/1"),
            Ok(Shards::Range {
                first: 0,
                last: 0,
                total: 1
            })
        );
        for (bad, why) in [
            ("3/3", "there is no shard 3 of 3 (they are numbered 0 to 2)"),
            ("0/0", "the number of shards must be at least 1"),
            ("4-2/8", "the range 4-2 runs backwards"),
            ("two", "is not 'auto', a shard like '1/4'"),
            ("1/x", "is not 'auto'"),
            ("-1/3", "is not 'auto'"),
            ("1-/3", "is not 'auto'"),
        ] {
            let got = Shards::parse(bad).unwrap_err();
            assert!(got.contains(why), "{bad}: {got}");
        }
        let err = settings(&[("BRIEFBOT_SHARDS", "5/4")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("environment: BRIEFBOT_SHARDS: '5/4': there is no shard 5"),
            "{err}"
        );
        assert_eq!(settings(&[]).unwrap().shards, Shards::Auto);
    }

    #[test]
    fn a_missing_file_means_the_builtin_source() {
        let s = load_sources(Path::new("/nonexistent/briefbot/sources.toml")).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].id.as_str(), "aitimes-briefing");
        assert_eq!(s[0].format, Format::Ndsoft);
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn environment_defaults_and_errors() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.database_url,
            DatabaseUrl::Sqlite(DEFAULT_DATABASE_URL.into())
        );
        assert_eq!(s.sources_path, PathBuf::from("sources.toml"));
        assert!(s.discord_token.is_none());

        let e = settings(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(e.to_string().starts_with("environment: DATABASE_URL: "));
        let e = settings(&[("BRIEFBOT_GUILD_ID", "abc")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("environment: BRIEFBOT_GUILD_ID: 'abc'")
        );
        let e = settings(&[("BRIEFBOT_HTTP_ADDR", "nowhere")]).unwrap_err();
        assert!(e.to_string().contains("BRIEFBOT_HTTP_ADDR"));
        let e = settings(&[("DISCORD_API_PROXY", "ws:/x")]).unwrap_err();
        assert!(e.to_string().contains("DISCORD_API_PROXY"));
    }

    #[test]
    fn secrets_never_print() {
        let s = settings(&[("DISCORD_TOKEN", "abc.def.ghi")]).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("abc.def.ghi"), "{shown}");
        assert_eq!(s.discord_token.unwrap().expose(), "abc.def.ghi");
        let db = DatabaseUrl::parse("postgres://u:hunter2@h/db").unwrap();
        assert!(!db.to_string().contains("hunter2"));
    }
}
