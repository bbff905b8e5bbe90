//! The one HTTP client every source shares: timeouts, a redirect limit, a body size cap,
//! conditional GET, charset decoding, and the address check of [`super::guard`] on every
//! request and redirect hop. Nothing else in briefbot talks to news sites.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};
use url::Url;

use super::charset;
use super::guard::{GuardedResolver, Refused, Rules};

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
    /// The request (or a redirect hop) would have gone to an address briefbot does not fetch.
    #[error("{url}: not fetched: {reason}")]
    Refused { url: Url, reason: String },
    #[error("{url}: the server answered {status}")]
    Status { url: Url, status: StatusCode },
    #[error("{url}: the body is larger than {limit} bytes; not read further")]
    TooLarge { url: Url, limit: usize },
    #[error("{url}: {message}")]
    Network { url: Url, message: String },
}

/// Fetches pages politely and safely; clone it freely (clones share the connection pools).
///
/// It holds two clients: one that reaches only public addresses (the default) and one that may
/// also reach private ones, for sources allowed to ([`Fetcher::for_source`]).
#[derive(Debug, Clone)]
pub struct Fetcher {
    public: Client,
    private: Client,
    allow_private: bool,
    limits: FetchLimits,
}

#[derive(Debug, Clone)]
struct Client {
    http: reqwest::Client,
    rules: Arc<Rules>,
}

pub const USER_AGENT: &str = concat!(
    "briefbot/",
    env!("CARGO_PKG_VERSION"),
    " (Discord news-brief bot; polls each source every few minutes)"
);

impl Client {
    fn new(
        limits: &FetchLimits,
        rules: Rules,
        proxy: Option<&Url>,
    ) -> Result<Self, reqwest::Error> {
        let rules = Arc::new(rules);
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(limits.connect_timeout)
            .timeout(limits.total_timeout)
            // Followed by `Fetcher::exchange`, which checks each hop before it is requested:
            // reqwest's redirect policy cannot resolve a name, and through a proxy the target's
            // name never reaches the resolver.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver(rules.clone())));
        if let Some(proxy) = proxy {
            builder = builder.proxy(reqwest::Proxy::all(proxy.clone())?);
        }
        Ok(Self {
            http: builder.build()?,
            rules,
        })
    }

    /// Checks `url` before it is requested: an address host here; a name by the resolver when
    /// connecting directly, or here too when a proxy will connect (it resolves the name itself,
    /// out of the resolver's reach).
    async fn check(&self, url: &Url) -> Result<(), Refused> {
        self.rules.check_url(url)?;
        if self.rules.proxied {
            self.rules.check_proxied(url).await?;
        }
        Ok(())
    }
}

/// Which proxy a fetcher's requests go through.
enum Proxy {
    /// reqwest's default: the ones the environment names, if any.
    FromEnvironment,
    /// This one (tests, through `Fetcher::for_tests_through`).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    At(Url),
}

/// The proxies the environment names, as reqwest reads them (a value without a scheme is an
/// `http://` proxy). `NO_PROXY` is not read: a request it exempts is only checked twice.
fn environment_proxies() -> Vec<Url> {
    [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .into_iter()
    .filter_map(|key| std::env::var(key).ok())
    .map(|value| value.trim().to_owned())
    .filter(|value| !value.is_empty())
    .filter_map(|value| {
        Url::parse(&value)
            .ok()
            .filter(Url::has_host)
            .or_else(|| Url::parse(&format!("http://{value}")).ok())
    })
    .collect()
}

/// Where a redirect answer sends the request next: `None` for any other answer (a 304 included).
fn redirect_target(at: &Url, response: &reqwest::Response) -> Option<Url> {
    let redirect = matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308);
    let location = response.headers().get(reqwest::header::LOCATION)?;
    if !redirect {
        return None;
    }
    at.join(location.to_str().ok()?).ok()
}

impl Fetcher {
    /// A fetcher of public pages, through the proxies the environment names, if any (as
    /// reqwest reads them: `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, in either case).
    pub fn new(limits: FetchLimits) -> Result<Self, reqwest::Error> {
        Self::with_rules(limits, Vec::new(), Vec::new(), Proxy::FromEnvironment)
    }

    /// A fetcher for tests on 127.0.0.1: `also_public` addresses count as public (tests must
    /// not send traffic to real public addresses), and `hosts` are names answered without DNS.
    #[cfg(feature = "testing")]
    pub fn for_tests(
        limits: FetchLimits,
        also_public: Vec<IpAddr>,
        hosts: Vec<(String, IpAddr)>,
    ) -> Result<Self, reqwest::Error> {
        Self::with_rules(limits, also_public, hosts, Proxy::FromEnvironment)
    }

    /// [`Fetcher::for_tests`] sending every request through the HTTP proxy at `proxy`.
    #[cfg(feature = "testing")]
    pub fn for_tests_through(
        limits: FetchLimits,
        also_public: Vec<IpAddr>,
        hosts: Vec<(String, IpAddr)>,
        proxy: Url,
    ) -> Result<Self, reqwest::Error> {
        Self::with_rules(limits, also_public, hosts, Proxy::At(proxy))
    }

    fn with_rules(
        limits: FetchLimits,
        also_public: Vec<IpAddr>,
        hosts: Vec<(String, IpAddr)>,
        proxy: Proxy,
    ) -> Result<Self, reqwest::Error> {
        let mut names = std::collections::HashMap::<String, Vec<IpAddr>>::new();
        for (name, ip) in hosts {
            names.entry(name).or_default().push(ip);
        }
        let (explicit, proxies) = match proxy {
            Proxy::FromEnvironment => (None, environment_proxies()),
            Proxy::At(url) => (Some(url.clone()), vec![url]),
        };
        let rules = |allow_private| Rules {
            allow_private,
            also_public: also_public.clone(),
            hosts: names.clone(),
            proxied: !proxies.is_empty(),
            proxies: proxies
                .iter()
                .filter_map(|p| match p.host() {
                    Some(url::Host::Domain(name)) => Some(name.to_owned()),
                    _ => None,
                })
                .collect(),
        };
        let explicit = explicit.as_ref();
        Ok(Self {
            public: Client::new(&limits, rules(false), explicit)?,
            private: Client::new(&limits, rules(true), explicit)?,
            allow_private: false,
            limits,
        })
    }

    /// This fetcher, allowed (or not) to reach private addresses.
    pub fn allowing_private(&self, allow: bool) -> Self {
        Self {
            allow_private: allow,
            ..self.clone()
        }
    }

    /// The fetcher for a source's requests: private addresses only when the source allows them
    /// or its own list URL is on one.
    pub async fn for_source(&self, list_url: &Url, allow_private: bool) -> Self {
        self.allowing_private(allow_private || self.public.rules.is_private_host(list_url).await)
    }

    fn client(&self) -> &Client {
        if self.allow_private {
            &self.private
        } else {
            &self.public
        }
    }

    /// GETs `url`. With `validators`, asks only for a changed page and may get
    /// [`Fetched::NotModified`]. Redirects are followed here, hop by hop, so that each hop is
    /// checked as the first request is; the whole exchange, hops and body, has
    /// [`FetchLimits::total_timeout`].
    pub async fn get(
        &self,
        url: &Url,
        validators: Option<&Validators>,
    ) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(self.limits.total_timeout, self.exchange(url, validators)).await
        {
            Ok(fetched) => fetched,
            Err(_) => Err(FetchError::Timeout { url: url.clone() }),
        }
    }

    async fn exchange(
        &self,
        url: &Url,
        validators: Option<&Validators>,
    ) -> Result<Fetched, FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Scheme(url.clone()));
        }
        let client = self.client();
        let mut at = url.clone();
        let mut hops = 0;
        let mut response = loop {
            if let Err(Refused(reason)) = client.check(&at).await {
                return Err(FetchError::Refused {
                    url: url.clone(),
                    reason,
                });
            }
            let mut request = client.http.get(at.clone());
            if let Some(v) = validators {
                if let Some(etag) = &v.etag {
                    request = request.header(IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &v.last_modified {
                    request = request.header(IF_MODIFIED_SINCE, lm);
                }
            }
            let response = request.send().await.map_err(|e| self.classify(url, e))?;
            let Some(next) = redirect_target(&at, &response) else {
                break response;
            };
            if hops == self.limits.max_redirects {
                return Err(FetchError::Redirects {
                    url: url.clone(),
                    limit: self.limits.max_redirects,
                });
            }
            hops += 1;
            at = next;
        };
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
        let final_url = at;
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
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            if let Some(Refused(reason)) = s.downcast_ref::<Refused>() {
                return FetchError::Refused {
                    url,
                    reason: reason.clone(),
                };
            }
            source = s.source();
        }
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
