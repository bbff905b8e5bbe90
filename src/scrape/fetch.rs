//! The one HTTP client every source shares: timeouts, a redirect limit, a body size cap,
//! conditional GET and charset decoding. Nothing else in briefbot talks to news sites.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use url::Url;

use super::charset;

/// Limits for fetching pages.
#[derive(Debug, Clone)]
pub struct FetchLimits {
    pub connect_timeout: Duration,
    /// For the whole exchange, body included.
    pub total_timeout: Duration,
    pub max_redirects: usize,
    /// Bodies longer than this are cut off, not read to the end.
    pub max_body_bytes: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_redirects: 5,
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The validators a server gave for a URL, sent back to ask "has it changed?".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }

    fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            etag: get(ETAG),
            last_modified: get(LAST_MODIFIED),
        }
    }
}

/// A fetched page, decoded to text.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the page was finally found, after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    pub text: String,
    pub validators: Validators,
}

#[derive(Debug)]
pub enum Fetched {
    Page(Page),
    /// The server answered 304 to a conditional request.
    NotModified,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}: only http and https URLs are fetched")]
    Scheme(Url),
    #[error("{url}: timed out")]
    Timeout { url: Url },
    #[error("{url}: more than {limit} redirects")]
    Redirects { url: Url, limit: usize },
    #[error("{url}: the server answered {status}")]
    Status { url: Url, status: StatusCode },
    #[error("{url}: the body is larger than {limit} bytes; not read further")]
    TooLarge { url: Url, limit: usize },
    #[error("{url}: {message}")]
    Network { url: Url, message: String },
}

/// Fetches pages politely and safely; clone it freely (it shares one connection pool).
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    limits: FetchLimits,
}

pub const USER_AGENT: &str = concat!(
    "briefbot/",
    env!("CARGO_PKG_VERSION"),
    " (Discord news-brief bot; polls each source every few minutes)"
);

impl Fetcher {
    pub fn new(limits: FetchLimits) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.total_timeout)
            .redirect(reqwest::redirect::Policy::limited(limits.max_redirects))
            .build()?;
        Ok(Self { client, limits })
    }

    /// GETs `url`. With `validators`, asks only for a changed page and may get
    /// [`Fetched::NotModified`].
    pub async fn get(
        &self,
        url: &Url,
        validators: Option<&Validators>,
    ) -> Result<Fetched, FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Scheme(url.clone()));
        }
        let mut request = self.client.get(url.clone());
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &v.last_modified {
                request = request.header(IF_MODIFIED_SINCE, lm);
            }
        }
        let mut response = request.send().await.map_err(|e| self.classify(url, e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && validators.is_some() {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                url: url.clone(),
                status,
            });
        }
        let limit = self.limits.max_body_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(FetchError::TooLarge {
                url: url.clone(),
                limit,
            });
        }
        let final_url = response.url().clone();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let validators = Validators::from_headers(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(url, e))? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge {
                    url: url.clone(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let tld = final_url
            .host_str()
            .and_then(|h| h.rsplit('.').next())
            .map(str::as_bytes);
        let text = charset::decode(&body, content_type.as_deref(), tld);
        Ok(Fetched::Page(Page {
            url: final_url,
            content_type,
            text,
            validators,
        }))
    }

    fn classify(&self, url: &Url, e: reqwest::Error) -> FetchError {
        let url = url.clone();
        if e.is_timeout() {
            FetchError::Timeout { url }
        } else if e.is_redirect() {
            FetchError::Redirects {
                url,
                limit: self.limits.max_redirects,
            }
        } else {
            // reqwest's Display stops at the outermost error; the cause says what went wrong.
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            FetchError::Network { url, message }
        }
    }
}
