//! Pure domain types: what a source is, what an issue and its briefs are, and the canonical
//! URL that identifies an issue. Everything here is parsed once at the edge and trusted after.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

/// Korea Standard Time. Korea has kept UTC+9 without daylight saving since 1988, so a fixed
/// offset is exact for every date a news brief can carry.
pub fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

/// A source's stable id: lowercase ASCII letters, digits and '-', 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SourceId(String);

impl SourceId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > 64 {
            return Err(format!("'{s}' must be 1 to 64 characters long"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "'{s}' may contain only lowercase letters, digits and '-'"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SourceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SourceId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// How a source's pages are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// AI Times and other sites on the NDSoft CMS (`articleList.html` / `articleView.html`).
    Ndsoft,
    /// WordPress with the tagDiv "Newspaper" theme (classic and `tdb` cloud templates).
    Wordpress,
    /// An RSS or Atom feed as the listing; each item's page is parsed with `auto`.
    Rss,
    /// Recognise the layout from the page itself, with a generic main-text fallback.
    #[default]
    Auto,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ndsoft" => Ok(Self::Ndsoft),
            "wordpress" => Ok(Self::Wordpress),
            "rss" => Ok(Self::Rss),
            "auto" => Ok(Self::Auto),
            other => Err(format!(
                "unknown format '{other}' (expected ndsoft, wordpress, rss or auto)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ndsoft => "ndsoft",
            Self::Wordpress => "wordpress",
            Self::Rss => "rss",
            Self::Auto => "auto",
        })
    }
}

/// Query parameters that only track where a reader came from; they never select content.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid", "gclid", "gbraid", "wbraid", "dclid", "msclkid", "yclid", "igshid", "mc_cid",
    "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "spm", "cmpid",
];

/// An issue's identity on the web: http(s) only, no fragment, no tracking parameters, the
/// remaining query parameters in a stable order. On NDSoft article pages
/// (`articleView.html?idxno=N&…`) only `idxno` selects the article, so only it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CanonicalUrl(Url);

impl CanonicalUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let url = Url::parse(s.trim()).map_err(|e| format!("'{s}' is not a URL: {e}"))?;
        Self::from_url(url)
    }

    pub fn from_url(mut url: Url) -> Result<Self, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("'{url}' is not an http(s) URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("'{url}' has no host"));
        }
        url.set_fragment(None);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let ndsoft_article = url.path().ends_with("/articleView.html")
            && url.query_pairs().any(|(k, _)| k == "idxno");
        let mut kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                if ndsoft_article {
                    return k == "idxno";
                }
                let k = k.to_ascii_lowercase();
                !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        kept.sort();
        kept.dedup();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        Ok(Self(url))
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for CanonicalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// One `■` item of an issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Brief {
    pub headline: String,
    pub summary: String,
}

/// One issue of a brief, or one ordinary article (an issue with no items), as parsed from its
/// page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub url: CanonicalUrl,
    pub title: String,
    pub published_at: Option<DateTime<Utc>>,
    /// The lead story; for an ordinary article, its first paragraph.
    pub lead: String,
    pub briefs: Vec<Brief>,
    /// The page's whole main text, boilerplate removed, one paragraph a line.
    pub text: String,
}

/// Where a delivery stands: the `deliveries.status` column, stored as the same lowercase TEXT
/// the schema's CHECK lists (`pending`, `sent`, `skipped`, `failed`, `cancelled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Owed: the worker posts it when it falls due.
    Pending,
    /// Every part is posted.
    Sent,
    /// Nothing was left to post, or the issue passed the catch-up window first.
    Skipped,
    /// Discord refused it for good, or its stored data could not be read.
    Failed,
    /// Unsubscribed, or its issue or channel is gone.
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sent,
        DeliveryStatus::Skipped,
        DeliveryStatus::Failed,
        DeliveryStatus::Cancelled,
    ];

    /// The word the database stores (and `/metrics` labels with).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Skipped => "skipped",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a delivery is owed: the `deliveries.kind` column, stored as lowercase TEXT (`new`,
/// `repost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DeliveryKind {
    /// A subscription's issue: once per channel, within the catch-up window, leaving out the
    /// items the channel already has.
    New,
    /// Asked for with `/repost`: posted whole, whenever it was published.
    Repost,
}

/// A Discord snowflake (a server, channel, user or message id) as the database stores it.
///
/// Discord's ids are unsigned 64-bit, the databases' integers signed: a snowflake's top 42 bits
/// count milliseconds since 2015, so none reaches 2^63 before 2084. The conversion is checked
/// all the same, so an id out of range is refused at the edge instead of being stored as
/// another id (before, seven places saturated it to `i64::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiscordId(i64);

/// A Discord id beyond what the database can store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Discord id {0} is beyond the largest the database stores (2^63 - 1)")]
pub struct IdOutOfRange(pub u64);

impl DiscordId {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<u64> for DiscordId {
    type Error = IdOutOfRange;

    fn try_from(id: u64) -> Result<Self, IdOutOfRange> {
        i64::try_from(id).map(Self).map_err(|_| IdOutOfRange(id))
    }
}

/// Every serenity id this bot stores converts the same way.
macro_rules! discord_id_from {
    ($($id:ty),*) => {$(
        impl TryFrom<$id> for DiscordId {
            type Error = IdOutOfRange;

            fn try_from(id: $id) -> Result<Self, IdOutOfRange> {
                Self::try_from(id.get())
            }
        }
    )*};
}

discord_id_from!(
    serenity::model::id::ChannelId,
    serenity::model::id::GuildId,
    serenity::model::id::UserId,
    serenity::model::id::MessageId
);

impl fmt::Display for DiscordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A subscription's keywords (README: Slash commands): at most [`Keywords::MAX`] words of at most
/// [`Keywords::MAX_CHARS`] characters, none blank, no two the same ignoring case, in the order
/// the member typed them. Parsed once from what the member typed, stored as one text
/// (`AI, 반도체`) and read back into the same words, so the filter and the replies never split
/// or join strings of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords(Vec<String>);

/// Why typed keywords were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeywordsError {
    #[error("each keyword may be at most {max} characters")]
    TooLong { max: usize },
    #[error("at most {max} keywords")]
    TooMany { max: usize },
}

impl Keywords {
    /// Keywords a subscription may have.
    pub const MAX: usize = 20;
    /// Characters a keyword may have.
    pub const MAX_CHARS: usize = 50;

    /// What a member typed: words separated by commas (also the full-width `，` and the
    /// ideographic `、` a Korean or Japanese keyboard gives), trimmed, blanks and repeats
    /// dropped. `None` when nothing is left.
    pub fn parse(typed: &str) -> Result<Option<Self>, KeywordsError> {
        let mut words: Vec<String> = Vec::new();
        for word in typed
            .split([',', '，', '、'])
            .map(str::trim)
            .filter(|w| !w.is_empty())
        {
            if word.chars().count() > Self::MAX_CHARS {
                return Err(KeywordsError::TooLong {
                    max: Self::MAX_CHARS,
                });
            }
            if !words.iter().any(|w| w.eq_ignore_ascii_case(word)) {
                words.push(word.to_owned());
            }
        }
        if words.len() > Self::MAX {
            return Err(KeywordsError::TooMany { max: Self::MAX });
        }
        Ok((!words.is_empty()).then_some(Self(words)))
    }

    /// The words, in order.
    pub fn words(&self) -> &[String] {
        &self.0
    }
}

/// As stored and shown: the words joined by `, `.
impl fmt::Display for Keywords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

/// Read back from the database's text: the stored words, split where they were joined. No
/// limit is checked again (a subscription stored under other limits keeps its words).
impl<DB: sqlx::Database> sqlx::Type<DB> for Keywords
where
    String: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for Keywords
where
    String: sqlx::Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let stored = <String as sqlx::Decode<'r, DB>>::decode(value)?;
        Ok(Self(
            stored
                .split(',')
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_parsed_once_and_read_back_as_the_same_words() {
        let k = Keywords::parse(" AI，반도체 、 , ai, 엔비디아 ")
            .unwrap()
            .unwrap();
        assert_eq!(k.words(), ["AI", "반도체", "엔비디아"]);
        assert_eq!(k.to_string(), "AI, 반도체, 엔비디아");
        assert_eq!(Keywords::parse(" , ,"), Ok(None));
        let long = "가".repeat(Keywords::MAX_CHARS + 1);
        assert_eq!(
            Keywords::parse(&long),
            Err(KeywordsError::TooLong {
                max: Keywords::MAX_CHARS
            })
        );
        let many: Vec<String> = (0..=Keywords::MAX).map(|n| format!("w{n}")).collect();
        assert_eq!(
            Keywords::parse(&many.join(",")),
            Err(KeywordsError::TooMany { max: Keywords::MAX })
        );
    }

    fn canon(s: &str) -> String {
        CanonicalUrl::parse(s).unwrap().to_string()
    }

    #[test]
    fn tracking_parameters_and_fragments_are_removed() {
        assert_eq!(
            canon("https://example.com/a/b?utm_source=x&id=3&fbclid=abc&UTM_Medium=y#top"),
            "https://example.com/a/b?id=3"
        );
        assert_eq!(
            canon("https://example.com/a?gclid=1"),
            "https://example.com/a"
        );
    }

    #[test]
    fn remaining_parameters_are_ordered() {
        assert_eq!(
            canon("https://example.com/?b=2&a=1"),
            canon("https://example.com/?a=1&b=2")
        );
    }

    #[test]
    fn ndsoft_article_urls_keep_only_idxno() {
        assert_eq!(
            canon(
                "https://www.aitimes.com/news/articleView.html?idxno=153427&replyAll=&reply_sc_order_by=C"
            ),
            "https://www.aitimes.com/news/articleView.html?idxno=153427"
        );
        assert_eq!(
            canon("HTTPS://WWW.AITIMES.COM:443/news/articleView.html?idxno=1&utm_source=rss"),
            "https://www.aitimes.com/news/articleView.html?idxno=1"
        );
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(CanonicalUrl::parse("ftp://example.com/x").is_err());
        assert!(CanonicalUrl::parse("file:///etc/passwd").is_err());
        assert!(CanonicalUrl::parse("not a url").is_err());
    }

    #[test]
    fn source_ids_are_validated() {
        assert!(SourceId::parse("aitimes-briefing").is_ok());
        assert!(SourceId::parse("AI").is_err());
        assert!(SourceId::parse("").is_err());
        assert!(SourceId::parse("a b").is_err());
    }

    #[test]
    fn discord_ids_beyond_i64_are_refused_not_saturated() {
        let largest = serenity::model::id::ChannelId::new(i64::MAX.unsigned_abs());
        assert_eq!(
            DiscordId::try_from(largest).map(DiscordId::get),
            Ok(i64::MAX)
        );
        let beyond = serenity::model::id::UserId::new(1 << 63);
        assert_eq!(DiscordId::try_from(beyond), Err(IdOutOfRange(1 << 63)));
    }

    #[tokio::test]
    async fn delivery_statuses_and_kinds_are_stored_as_the_schemas_words() {
        use sqlx::Connection as _;
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        for status in DeliveryStatus::ALL {
            let stored: String = sqlx::query_scalar("SELECT $1")
                .bind(status)
                .fetch_one(&mut db)
                .await
                .unwrap();
            assert_eq!(stored, status.as_str());
            let read: DeliveryStatus = sqlx::query_scalar("SELECT $1")
                .bind(status.as_str())
                .fetch_one(&mut db)
                .await
                .unwrap();
            assert_eq!(read, status);
        }
        for (kind, word) in [(DeliveryKind::New, "new"), (DeliveryKind::Repost, "repost")] {
            let stored: String = sqlx::query_scalar("SELECT $1")
                .bind(kind)
                .fetch_one(&mut db)
                .await
                .unwrap();
            assert_eq!(stored, word);
        }
    }
}
