//! A fake news site on 127.0.0.1: serves pages from memory, honours conditional GET, counts
//! requests, and misbehaves on request (error statuses, endless bodies, redirect loops, stalls).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use super::fixture;

#[derive(Debug, Clone)]
pub enum Behaviour {
    Serve,
    Status(u16),
    /// A body that never ends.
    Endless,
    /// Redirects to itself.
    RedirectLoop,
    /// Redirects to this URL.
    RedirectTo(String),
    /// Answers only after this long.
    Stall(Duration),
    /// Sends its headers, then one byte of body this often, for ever.
    Trickle(Duration),
    /// A finite body of this many bytes, streamed without a Content-Length.
    Huge(usize),
    /// A small gzip body (`Content-Encoding: gzip`) that inflates to this many bytes.
    GzipBomb(usize),
    /// 304 Not Modified, whatever the request asked.
    AlwaysNotModified,
    /// Random bytes served as `text/html`.
    Garbage(usize),
}

#[derive(Debug, Clone)]
struct FakePage {
    body: Vec<u8>,
    content_type: String,
    etag: Option<String>,
    behaviour: Behaviour,
}

#[derive(Default)]
struct SiteState {
    pages: Mutex<HashMap<String, FakePage>>,
    hits: Mutex<HashMap<String, usize>>,
    not_modified: Mutex<HashMap<String, usize>>,
}

pub struct FakeSite {
    pub base: Url,
    state: Arc<SiteState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSite {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSite {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// A site on another loopback address (any of 127.0.0.0/8), for tests that need a second
    /// host that is not the first.
    pub async fn start_on(ip: &str) -> Self {
        let state = Arc::new(SiteState::default());
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: Url::parse(&format!("http://{addr}/")).unwrap(),
            state,
            server,
        }
    }

    /// The site's URL for a path with its query, like `/news/articleView.html?idxno=1`.
    pub fn url(&self, path_and_query: &str) -> Url {
        self.base.join(path_and_query).unwrap()
    }

    fn put(&self, path_and_query: &str, page: FakePage) {
        self.state
            .pages
            .lock()
            .unwrap()
            .insert(path_and_query.to_owned(), page);
    }

    /// Serves `body` with an ETag derived from it, so an unchanged page answers 304.
    pub fn serve_bytes(&self, path_and_query: &str, body: Vec<u8>, content_type: &str) {
        let etag = format!(
            "\"{:x}-{}\"",
            body.iter()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(*b))),
            body.len()
        );
        self.put(
            path_and_query,
            FakePage {
                body,
                content_type: content_type.to_owned(),
                etag: Some(etag),
                behaviour: Behaviour::Serve,
            },
        );
    }

    /// Serves a fixture, with the real sites' addresses pointed at this fake site.
    pub fn serve_fixture(&self, path_and_query: &str, fixture_rel: &str) {
        let base = self.base.as_str().trim_end_matches('/');
        let text = fixture(fixture_rel)
            .replace("https://www.aitimes.com", base)
            .replace("https://example-news.kr", base);
        let content_type = if fixture_rel.ends_with(".xml") {
            "application/rss+xml; charset=utf-8"
        } else {
            "text/html; charset=utf-8"
        };
        self.serve_bytes(path_and_query, text.into_bytes(), content_type);
    }

    /// Serves a fixture as if it had just been published: its `2026-08-DD` publish time
    /// becomes `22 - DD` hours ago, so issues keep their order and fall in the catch-up window.
    pub fn serve_fresh_fixture(&self, path_and_query: &str, fixture_rel: &str) {
        let base = self.base.as_str().trim_end_matches('/');
        let re = regex::Regex::new(r"2026-08-(\d{2})T07:00:00\+09:00").unwrap();
        let now = chrono::Utc::now();
        let text = fixture(fixture_rel)
            .replace("https://www.aitimes.com", base)
            .replace("https://example-news.kr", base);
        let text = re.replace_all(&text, |c: &regex::Captures<'_>| {
            let day: i64 = c[1].parse().unwrap();
            (now - chrono::Duration::hours(22 - day)).to_rfc3339()
        });
        self.serve_bytes(
            path_and_query,
            text.into_owned().into_bytes(),
            "text/html; charset=utf-8",
        );
    }

    /// The AI Times look-alike: the pages of the four real issues in `tests/fixtures/aitimes/`
    /// (published within the last day, in their order), and a list page at [`AITIMES_LIST`]
    /// with these of them listed.
    pub async fn aitimes(listed: &[u32]) -> Self {
        let site = Self::start().await;
        for idxno in AITIMES_ISSUES {
            site.serve_fresh_fixture(
                &aitimes_article(idxno),
                &format!("aitimes/article_{idxno}.html"),
            );
        }
        site.list_aitimes(listed);
        site
    }

    /// Lists these AI Times issues at [`AITIMES_LIST`], newest first as given, with their real
    /// titles.
    pub fn list_aitimes(&self, issues: &[u32]) {
        let entries: Vec<(String, &str)> = issues
            .iter()
            .map(|n| {
                let title = match n {
                    214199 => "[8월21일] 오픈AI가 ‘컴퓨터 유즈’에 보인 자신감",
                    214145 => "[8월20일] 데이터센터 반발 '달래기'에 나선 빅테크",
                    214100 => "[8월19일] 도메인 특화 AI의 다음 경쟁력은 ‘메모리’",
                    _ => "[8월18일] AI 의료의 새로운 돌파구",
                };
                (aitimes_article(*n), title)
            })
            .collect();
        self.serve_bytes(
            AITIMES_LIST,
            ndsoft_list(&entries),
            "text/html; charset=utf-8",
        );
    }

    /// Makes a path misbehave.
    pub fn misbehave(&self, path_and_query: &str, behaviour: Behaviour) {
        self.put(
            path_and_query,
            FakePage {
                body: b"<html><body>oops</body></html>".to_vec(),
                content_type: "text/html".into(),
                etag: None,
                behaviour,
            },
        );
    }

    /// Requests that reached a path (304s included).
    pub fn hits(&self, path_and_query: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(path_and_query)
            .copied()
            .unwrap_or(0)
    }

    /// Requests to a path answered 304 Not Modified.
    pub fn not_modified(&self, path_and_query: &str) -> usize {
        self.state
            .not_modified
            .lock()
            .unwrap()
            .get(path_and_query)
            .copied()
            .unwrap_or(0)
    }
}

async fn handle(State(state): State<Arc<SiteState>>, request: Request) -> Response {
    let key = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    *state.hits.lock().unwrap().entry(key.clone()).or_default() += 1;
    let page = state.pages.lock().unwrap().get(&key).cloned();
    let Some(page) = page else {
        return (StatusCode::NOT_FOUND, "no such page").into_response();
    };
    match page.behaviour {
        Behaviour::Serve => {}
        Behaviour::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap();
            return (status, "failure").into_response();
        }
        Behaviour::Endless => {
            let chunk = axum::body::Bytes::from(vec![b'a'; 64 * 1024]);
            let stream =
                futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::from_stream(stream))
                .unwrap();
        }
        Behaviour::RedirectLoop => {
            return Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, key)
                .body(Body::empty())
                .unwrap();
        }
        Behaviour::RedirectTo(to) => {
            return Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, to)
                .body(Body::empty())
                .unwrap();
        }
        Behaviour::Stall(d) => tokio::time::sleep(d).await,
        Behaviour::Trickle(every) => {
            let stream = futures_util::stream::unfold((), move |()| async move {
                tokio::time::sleep(every).await;
                Some((
                    Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"<")),
                    (),
                ))
            });
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::from_stream(stream))
                .unwrap();
        }
        Behaviour::Huge(len) => {
            const CHUNK: usize = 64 * 1024;
            let chunk = axum::body::Bytes::from(vec![b'a'; CHUNK]);
            let stream = futures_util::stream::iter(
                (0..len.div_ceil(CHUNK)).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            );
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::from_stream(stream))
                .unwrap();
        }
        Behaviour::GzipBomb(len) => {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let zeros = vec![b' '; 1024 * 1024];
            for _ in 0..len.div_ceil(zeros.len()) {
                gz.write_all(&zeros).unwrap();
            }
            let body = gz.finish().unwrap();
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .header(header::CONTENT_ENCODING, "gzip")
                .body(Body::from(body))
                .unwrap();
        }
        Behaviour::AlwaysNotModified => return StatusCode::NOT_MODIFIED.into_response(),
        Behaviour::Garbage(len) => {
            // A fixed xorshift, so every run serves the same garbage.
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            return Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .body(Body::from(body))
                .unwrap();
        }
    }
    if let (Some(etag), Some(sent)) = (&page.etag, request.headers().get(header::IF_NONE_MATCH))
        && sent.as_bytes() == etag.as_bytes()
    {
        *state.not_modified.lock().unwrap().entry(key).or_default() += 1;
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut response = Response::new(Body::from(page.body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&page.content_type).unwrap(),
    );
    if let Some(etag) = page.etag {
        headers.insert(header::ETAG, HeaderValue::from_str(&etag).unwrap());
    }
    response
}

/// The AI Times brief's list page, as the built-in source has it.
pub const AITIMES_LIST: &str = "/news/articleList.html?sc_sub_section_code=S2N110&view_type=sm";

/// The real AI Times issues whose pages are fixtures, oldest first.
pub const AITIMES_ISSUES: [u32; 4] = [214043, 214100, 214145, 214199];

/// The path of an AI Times issue's page.
pub fn aitimes_article(idxno: u32) -> String {
    format!("/news/articleView.html?idxno={idxno}")
}

/// An NDSoft list page (AI Times's) of these entries: (link, title).
pub fn ndsoft_list(entries: &[(String, &str)]) -> Vec<u8> {
    let items: String = entries
        .iter()
        .map(|(href, title)| {
            format!(
                "<li><h4 class=\"titles\"><a href=\"{href}\">{title}</a></h4><p class=\"lead line-x2\"><a href=\"{href}\">요약</a></p><span class=\"byline\"><em>기자</em></span></li>"
            )
        })
        .collect();
    format!(
        "<html><body><section id=\"section-list\"><ul class=\"type1\">{items}</ul></section></body></html>"
    )
    .into_bytes()
}

/// An AI Times (NDSoft) brief page with this lead and these items, published an hour ago.
pub fn ndsoft_briefing(title: &str, lead: &str, items: &[(&str, &str)]) -> Vec<u8> {
    let body: String = items
        .iter()
        .map(|(h, s)| format!("<p><strong>■ {h}</strong><br>{s}</p>"))
        .collect();
    let published = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    format!(
        "<html><head><title>{title}</title>\
         <meta property=\"og:title\" content=\"{title}\">\
         <meta property=\"article:published_time\" content=\"{published}\"></head>\
         <body><article id=\"article-view-content-div\"><p>{lead}</p><p>이어 국내외 주요 뉴스입니다.</p>{body}</article></body></html>"
    )
    .into_bytes()
}
