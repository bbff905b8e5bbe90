//! Search quality on a fixture corpus of real and synthetic briefs (tests/fixtures/search/),
//! through the real store: Korean words of one to four syllables, particles, English model
//! names, mixed and multi-word queries, and queries that must find nothing.

use std::collections::HashMap;

use briefbot::domain::{Brief, CanonicalUrl, Issue, kst};
use briefbot::store::{Recorded, Store, testing};
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use crate::support::{TestDb, common, fixture, record};

#[derive(Deserialize)]
struct Corpus {
    briefs: Vec<CorpusBrief>,
    /// The issues whose title and lead are given; the others are titled `[M월D일] 뉴스 브리핑`
    /// with a one-line lead.
    issues: Vec<CorpusIssue>,
    queries: Vec<CorpusQuery>,
}

#[derive(Deserialize)]
struct CorpusIssue {
    id: String,
    day: String,
    title: String,
    lead: String,
}

#[derive(Deserialize)]
struct CorpusBrief {
    id: String,
    issue: String,
    headline: String,
    summary: String,
}

#[derive(Deserialize)]
struct CorpusQuery {
    q: String,
    #[serde(default)]
    top5: Vec<String>,
    #[serde(default)]
    none: bool,
}

/// Stores the corpus as one issue a day; returns the store and the corpus id of each search
/// result key (a brief's id, or minus an issue's id for its title and lead).
async fn load(db: &TestDb) -> (Store, Corpus, HashMap<i64, String>) {
    let corpus: Corpus = serde_json::from_str(&fixture("search/corpus.json")).unwrap();
    let store = db.store().await;
    let mut by_day: Vec<(String, Vec<&CorpusBrief>)> = Vec::new();
    for b in &corpus.briefs {
        match by_day.iter_mut().find(|(day, _)| *day == b.issue) {
            Some((_, items)) => items.push(b),
            None => by_day.push((b.issue.clone(), vec![b])),
        }
    }
    let mut ids = HashMap::new();
    for (day, items) in &by_day {
        let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
        let published = kst()
            .from_local_datetime(&date.and_hms_opt(7, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc);
        let briefs: Vec<Brief> = items
            .iter()
            .map(|b| Brief {
                headline: b.headline.clone(),
                summary: b.summary.clone(),
            })
            .collect();
        let given = corpus.issues.iter().find(|i| i.day == *day);
        let issue = common::issue(
            &format!(
                "https://www.aitimes.com/news/articleView.html?idxno={}",
                date.format("%Y%m%d")
            ),
            given.map_or_else(
                || format!("[{}] 뉴스 브리핑", date.format("%-m월%-d일")),
                |i| i.title.clone(),
            ),
            Some(published),
            given.map_or_else(|| format!("{day}의 주요 소식입니다."), |i| i.lead.clone()),
            briefs,
        );
        let Recorded::New { id } = record(&store, "aitimes-briefing", &issue).await else {
            panic!("the issue of {day} was taken for a duplicate");
        };
        for ((brief_id, _, _), b) in store.brief_rows(id).await.unwrap().into_iter().zip(items) {
            ids.insert(brief_id, b.id.clone());
        }
        if let Some(given) = given {
            ids.insert(-id, given.id.clone());
        }
    }
    assert_eq!(ids.len(), corpus.briefs.len() + corpus.issues.len());
    (store, corpus, ids)
}

#[tokio::test]
async fn the_expected_briefs_rank_in_the_top_five_and_nonsense_finds_nothing() {
    let db = TestDb::new();
    let (store, corpus, ids) = load(&db).await;
    assert!(corpus.briefs.len() >= 60 && corpus.queries.len() >= 30);

    let mut failures = Vec::new();
    for q in &corpus.queries {
        let hits = store.search(&q.q, None, 5, 0).await.unwrap();
        let found: Vec<&str> = hits
            .iter()
            .filter_map(|h| ids.get(&h.key).map(String::as_str))
            .collect();
        if q.none {
            if !hits.is_empty() {
                failures.push(format!("{:?} should find nothing, found {found:?}", q.q));
            }
            continue;
        }
        let missing: Vec<&String> = q
            .top5
            .iter()
            .filter(|id| !found.contains(&id.as_str()))
            .collect();
        if !missing.is_empty() {
            failures.push(format!("{:?}: {missing:?} not in the top 5 {found:?}", q.q));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries rank poorly:\n{}",
        failures.len(),
        corpus.queries.len(),
        failures.join("\n")
    );
}

/// On PostgreSQL, the corpus is also loaded into SQLite: every query finds the same number of
/// results on both, and the same top five (as a set: equal scores may order differently) but
/// for at most one result, in nine queries of ten at least. (BM25 on SQLite weighs rare words
/// up; PostgreSQL has no per-term statistics, so a near tie at the fifth place can go the other
/// way: 70 of the 74 queries agree exactly, the other four on four of five.)
#[tokio::test]
async fn both_backends_find_the_same_top_results() {
    let Some(db) = TestDb::postgres_only("compares PostgreSQL's results with SQLite's") else {
        return;
    };
    let (postgres, corpus, pg_ids) = load(&db).await;
    let lite_db = TestDb::sqlite();
    let (sqlite, _, lite_ids) = load(&lite_db).await;
    let mut differences = Vec::new();
    for q in &corpus.queries {
        let top = |hits: Vec<briefbot::store::search::Hit>, ids: &HashMap<i64, String>| {
            let mut found: Vec<String> = hits.iter().map(|h| ids[&h.key].clone()).collect();
            found.sort();
            found
        };
        let pg = top(postgres.search(&q.q, None, 5, 0).await.unwrap(), &pg_ids);
        let lite = top(sqlite.search(&q.q, None, 5, 0).await.unwrap(), &lite_ids);
        if pg != lite {
            let shared = pg.iter().filter(|id| lite.contains(id)).count();
            assert!(
                shared + 1 >= pg.len().max(lite.len()),
                "{:?}: PostgreSQL {pg:?}, SQLite {lite:?}",
                q.q
            );
            differences.push(format!("{:?}: PostgreSQL {pg:?}, SQLite {lite:?}", q.q));
        }
        assert_eq!(
            postgres.search_count(&q.q, None).await.unwrap(),
            sqlite.search_count(&q.q, None).await.unwrap(),
            "{:?}",
            q.q
        );
    }
    assert!(
        differences.len() * 10 <= corpus.queries.len(),
        "{} of {} queries differ:\n{}",
        differences.len(),
        corpus.queries.len(),
        differences.join("\n")
    );
}

#[tokio::test]
async fn results_are_filtered_by_source_and_paged() {
    let db = TestDb::new();
    let (store, _, _) = load(&db).await;
    let all = store.search("오픈AI", None, 100, 0).await.unwrap();
    assert!(all.len() > 5);
    let page2 = store.search("오픈AI", None, 5, 5).await.unwrap();
    assert_eq!(
        page2.iter().map(|h| h.key).collect::<Vec<_>>(),
        all[5..all.len().min(10)]
            .iter()
            .map(|h| h.key)
            .collect::<Vec<_>>()
    );
    assert!(
        store
            .search("오픈AI", Some("other-source"), 10, 0)
            .await
            .unwrap()
            .is_empty()
    );
    // A page and the count come from one pass: the same as asking for each.
    for q in ["오픈AI", "칩", "센스타임", "xyzzy"] {
        let page = store.search_page(q, None, 5, 5).await.unwrap();
        assert_eq!(
            page.total,
            store.search_count(q, None).await.unwrap(),
            "{q}"
        );
        assert_eq!(
            keys(&page.hits),
            keys(&store.search(q, None, 5, 5).await.unwrap())
        );
    }
    let beyond = store.search_page("오픈AI", None, 5, 100).await.unwrap();
    assert!(beyond.hits.is_empty());
    assert_eq!(beyond.total, all.len() as i64);
}

#[tokio::test]
async fn briefs_stored_before_the_index_existed_are_indexed_on_open() {
    let db = TestDb::new();
    let (store, _, _) = load(&db).await;
    // Stored last but published first, as when a source's back issues are scraped.
    let issue = Issue {
        url: CanonicalUrl::parse("https://www.aitimes.com/news/articleView.html?idxno=1").unwrap(),
        title: "[7월1일] 뉴스 브리핑".into(),
        published_at: Some(Utc.with_ymd_and_hms(2026, 6, 30, 22, 0, 0).unwrap()),
        lead: "7월 첫 소식입니다.".into(),
        text: "엔비디아, 7월 실적 발표 예고".into(),
        briefs: vec![Brief {
            headline: "엔비디아, 7월 실적 발표 예고".into(),
            summary: "엔비디아가 7월 말 분기 실적을 발표한다고 밝혔다.".into(),
        }],
    };
    record(&store, "aitimes-briefing", &issue).await;
    let before = keys(&store.search("엔비디아", None, 100, 0).await.unwrap());
    assert!(!before.is_empty());
    testing::cut_search_index(&store, 0).await.unwrap();
    assert!(
        store
            .search("엔비디아", None, 100, 0)
            .await
            .unwrap()
            .is_empty()
    );
    drop(store);

    let reopened = db.store().await;
    assert_eq!(
        keys(&reopened.search("엔비디아", None, 100, 0).await.unwrap()),
        before
    );
    // Refilled oldest first: rowids follow the issues' dates, as the newest-first ranking
    // window expects.
    // Each issue's own document (title and lead) comes before its items.
    let order = testing::index_order(&reopened).await.unwrap();
    assert_eq!(order.len(), 84 + 23);
    assert!(order.is_sorted(), "{order:?}");
}

fn keys(hits: &[briefbot::store::search::Hit]) -> Vec<i64> {
    hits.iter().map(|h| h.key).collect()
}

/// A word is found where its syllables stand together as typed, not where a text merely holds
/// its syllable pairs apart (`한반도` and `전도체` hold `반도` and `도체`, not `반도체`), on both
/// backends, also when such texts are the newest.
#[tokio::test]
async fn a_word_is_found_only_where_its_syllables_stand_together() {
    let db = TestDb::new();
    let store = db.store().await;
    let at = Utc.with_ymd_and_hms(2026, 11, 2, 22, 0, 0).unwrap();
    let older = common::issue(
        "https://www.aitimes.com/news/articleView.html?idxno=1",
        "[11월2일] 뉴스 브리핑".into(),
        Some(at),
        "반도체 수출이 늘었습니다.".into(),
        vec![Brief {
            headline: "삼성, 반도체 투자 확대".into(),
            summary: "삼성전자가 반도체 설비 투자를 늘린다.".into(),
        }],
    );
    let newer = common::issue(
        "https://www.aitimes.com/news/articleView.html?idxno=2",
        "[11월3일] 뉴스 브리핑".into(),
        Some(at + chrono::Duration::days(1)),
        "한반도 정세가 바뀌었습니다.".into(),
        vec![Brief {
            headline: "한반도 전도체 연구단 출범".into(),
            summary: "초전도체를 연구하는 한반도 최대 연구단이 문을 열었다.".into(),
        }],
    );
    let Recorded::New { id: older_id } = record(&store, "aitimes-briefing", &older).await else {
        panic!("taken for a duplicate");
    };
    record(&store, "aitimes-briefing", &newer).await;
    let found = store.search("반도체", None, 10, 0).await.unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|h| h.issue_id == older_id), "{found:?}");
    assert_eq!(store.search_count("반도체", None).await.unwrap(), 2);
    assert_eq!(store.search("전도체", None, 10, 0).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_source_id_is_a_filter_and_never_a_search_word() {
    let db = TestDb::new();
    let (store, _, _) = load(&db).await;
    let issue = Issue {
        url: CanonicalUrl::parse("https://techcrunch.example/2026/11/28/openai").unwrap(),
        title: "오픈AI, 새 추론 모델 공개".into(),
        published_at: Some(Utc::now()),
        lead: "오픈AI가 새 추론 모델을 공개했다.".into(),
        text: "오픈AI가 새 추론 모델을 공개했다. 가격은 절반이다.".into(),
        briefs: Vec::new(),
    };
    let Recorded::New { id } = record(&store, "techcrunch", &issue).await else {
        panic!("taken for a duplicate");
    };
    assert!(
        store
            .search("techcrunch", None, 10, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.search_count("techcrunch", None).await.unwrap(), 0);
    let filtered = store
        .search("오픈AI", Some("techcrunch"), 10, 0)
        .await
        .unwrap();
    assert_eq!(keys(&filtered), [-id]);
    assert_eq!(filtered[0].source_id, "techcrunch");
    assert_eq!(
        store
            .search_count("오픈AI", Some("techcrunch"))
            .await
            .unwrap(),
        1
    );
    let everywhere = store.search("오픈AI", None, 200, 0).await.unwrap();
    assert!(everywhere.len() > 1 && everywhere.iter().any(|h| h.key == -id));
    // A source id that merely starts like another is a different source.
    assert!(
        store
            .search("오픈AI", Some("techcrunch-kr"), 10, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_index_refill_cut_short_is_finished_on_the_next_open() {
    let db = TestDb::new();
    let (store, _, _) = load(&db).await;
    let before = keys(&store.search("오픈AI", None, 200, 0).await.unwrap());
    // As if the process died after the first of the refill's transactions.
    testing::cut_search_index(&store, 40).await.unwrap();
    assert_ne!(
        keys(&store.search("오픈AI", None, 200, 0).await.unwrap()),
        before
    );
    drop(store);

    let reopened = db.store().await;
    assert_eq!(
        keys(&reopened.search("오픈AI", None, 200, 0).await.unwrap()),
        before
    );
    let indexed = testing::indexed_documents(&reopened).await.unwrap();
    // 83 briefs and the 22 issues' own documents.
    assert_eq!(indexed, 83 + 22);
}

#[tokio::test]
async fn a_database_of_the_previous_version_gets_its_issues_indexed_in_age_order_on_open() {
    let db = TestDb::new();
    let (store, _, ids) = load(&db).await;
    let lead_only = store.search("센스타임", None, 10, 0).await.unwrap();
    assert_eq!(keys(&lead_only).len(), 1);
    // The previous version: only the items of an issue with items were indexed, and the
    // migration that indexes every issue had not run.
    testing::as_before_lead_search(&store).await.unwrap();
    assert!(
        store
            .search("센스타임", None, 10, 0)
            .await
            .unwrap()
            .is_empty()
    );
    drop(store);

    let upgraded = db.store().await;
    let found = upgraded.search("센스타임", None, 10, 0).await.unwrap();
    assert_eq!(keys(&found), keys(&lead_only));
    assert_eq!(ids[&found[0].key], "i0808");
    let rows = testing::index_order(&upgraded).await.unwrap();
    assert_eq!(rows.len(), 83 + 22, "every brief and every issue, once");
    assert!(
        rows.is_sorted(),
        "oldest first, each issue before its items"
    );
}

/// A database of the version before search windows has them as their migration wrote them,
/// never measured, and until they are every search reads the whole index (at 1,000,000 briefs,
/// 240–860 ms a common word). Opening it measures them: a window then begins at its oldest
/// document, the `size`-th newest.
#[tokio::test]
async fn a_database_of_the_version_before_search_windows_gets_them_measured_on_open() {
    let Some(db) = TestDb::postgres_only("SQLite has no search windows") else {
        return;
    };
    let (store, _, _) = load(&db).await;
    testing::as_before_search_windows(&store, &[20, 50, 1_000])
        .await
        .unwrap();
    assert_eq!(
        testing::search_windows(&store).await.unwrap(),
        [(20, None), (50, None), (1_000, None)]
    );
    drop(store);

    let reopened = db.store().await;
    let times: Vec<_> = testing::index_order(&reopened)
        .await
        .unwrap()
        .into_iter()
        .map(|(at, _)| at.expect("every corpus issue has its date"))
        .collect();
    let since = |size: usize| Some(times[times.len() - size]);
    assert_eq!(
        testing::search_windows(&reopened).await.unwrap(),
        // The largest window holds more than the index: nothing to begin at yet.
        [(20, since(20)), (50, since(50)), (1_000, None)]
    );
}

/// A database of the version before search periods is rewritten on open (PostgreSQL: each
/// document's period added, `terms` moved into the row, the index rebuilt) and loses nothing: the
/// same results, scores and counts, in windows and over the whole index, and the next issue is
/// indexed after the copied documents (their numbers kept, the next one past them) and found.
#[tokio::test]
async fn a_database_of_the_version_before_search_periods_is_rewritten_on_open_losing_nothing() {
    let Some(db) = TestDb::postgres_only("SQLite has no search periods") else {
        return;
    };
    let (store, _, _) = load(&db).await;
    let queries = ["반도체", "엔비디아", "오픈AI", "AI 모델", "칩", "센스타임"];
    let pages = |store: Store| async move {
        let mut pages = Vec::new();
        for sizes in [&[][..], &[20, 50][..]] {
            testing::set_search_windows(&store, sizes).await.unwrap();
            for q in queries {
                pages.push(store.search_page(q, None, 5, 0).await.unwrap());
            }
        }
        pages
    };
    let before = pages(store.clone()).await;
    let documents = testing::index_order(&store).await.unwrap().len();
    testing::as_before_search_period(&store).await.unwrap();
    drop(store);

    let reopened = db.store().await;
    assert_eq!(pages(reopened.clone()).await, before);
    assert_eq!(
        testing::index_order(&reopened).await.unwrap().len(),
        documents
    );
    let words = common::vocabulary();
    let mut rng = common::Rng(0x2545_f491_4f6c_dd1d);
    let mut brief = common::brief(&mut rng, &words);
    brief.headline = format!("쿼크칩 {}", brief.headline);
    let issue = common::issue(
        "https://bench.example/issue/after-the-rewrite",
        "쿼크칩 나온 날".into(),
        Some(Utc::now()),
        common::sentence(&mut rng, &words, 30),
        vec![brief],
    );
    assert!(matches!(
        record(&reopened, "aitimes-briefing", &issue).await,
        Recorded::New { .. }
    ));
    assert_eq!(
        testing::index_order(&reopened).await.unwrap().len(),
        documents + 2,
        "the new issue and its item"
    );
    let found = reopened.search_page("쿼크칩", None, 5, 0).await.unwrap();
    assert_eq!(found.total, 2, "{found:?}");
}

/// A PostgreSQL search window is found in the index by its period: the days, months and years
/// (UTC) its documents were written with. Every time from the window's beginning to its newest
/// document must be in that period, and no time of a day before the window begins: the database
/// writes a document's period (`search_period`, SQL) and a search covers a window
/// (`period_cover`, Rust), and were they to disagree, a window would lose documents or hold the
/// whole index. Around every boundary of a day, month and year, and at random over 12 years.
#[tokio::test]
async fn a_search_window_holds_every_time_from_its_beginning_and_no_day_before() {
    let Some(db) = TestDb::postgres_only("SQLite has no search windows") else {
        return;
    };
    let store = db.store().await;
    let at = |s: &str| s.parse::<chrono::DateTime<Utc>>().unwrap();
    let mut windows = vec![
        (at("2025-10-29T23:59:59Z"), at("2027-03-02T08:00:00Z")),
        (at("2025-12-31T23:59:59.999Z"), at("2026-01-01T00:00:00Z")),
        (at("2026-01-01T00:00:00Z"), at("2026-12-31T23:59:59Z")),
        (at("2024-02-29T14:59:00Z"), at("2024-03-01T15:00:00Z")),
        (at("2026-12-04T15:00:00Z"), at("2026-12-04T15:00:00Z")),
        (
            at("2026-11-30T23:00:00-05:00"),
            at("2027-01-01T00:30:00+09:00"),
        ),
    ];
    let mut rng = common::Rng(0x5851_f42d_4c95_7f2d);
    let span = 12 * 365 * 86_400;
    let base = at("2019-01-01T00:00:00Z");
    let seconds = |rng: &mut common::Rng, max: u64| (rng.next() % max) as i64;
    for _ in 0..200 {
        let since = base + chrono::Duration::seconds(seconds(&mut rng, span));
        // Windows of an hour to five years.
        let newest = since + chrono::Duration::seconds(3_600 + seconds(&mut rng, 5 * 365 * 86_400));
        windows.push((since, newest));
    }
    for (since, newest) in windows {
        let day = since.date_naive().and_time(Default::default()).and_utc();
        let mut times = vec![since, newest, day, day - chrono::Duration::milliseconds(1)];
        for _ in 0..40 {
            let before = day - chrono::Duration::seconds(1 + seconds(&mut rng, 400 * 86_400));
            let within = since + (newest - since) / 40 * (seconds(&mut rng, 41) as i32);
            times.extend([before, within]);
        }
        let covered = testing::in_window_period(&store, &times, since, newest)
            .await
            .unwrap()
            .expect("a window of the years 1–9999");
        for (t, covered) in times.iter().zip(covered) {
            if *t >= since && *t <= newest {
                assert!(covered, "{t} is in the window from {since} to {newest}");
            } else if *t < day {
                assert!(
                    !covered,
                    "{t} is a day before the window from {since} to {newest}"
                );
            }
        }
    }
}

/// PostgreSQL looks for a query's newest matches among the newest documents first (its search
/// windows); what it finds there must be what the whole index gives: the same results, scores,
/// pages and count. The issues are stored out of date order, so a window taken in storing order
/// rather than by time would show. Every document says 반도체, but one item in eight only has its
/// syllable pairs apart (`한반도 전도체`): such a document holds every term of the query without
/// the phrase, so a window of 1,100 documents holds 1,100 of the first and only 968 of the second,
/// fewer than the 1,000 matches that are ranked, and must not answer; one of 1,300 holds 1,144 and
/// answers.
#[tokio::test]
async fn searching_the_newest_documents_first_finds_what_the_whole_index_finds() {
    let Some(db) = TestDb::postgres_only("SQLite has no search windows") else {
        return;
    };
    let store = db.store().await;
    let words = common::vocabulary();
    let mut rng = common::Rng(0x9e37_79b9_7f4a_7c15);
    let (issues, per_issue) = (60, 24);
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 7, 0, 0).unwrap();
    for i in 0..issues {
        let briefs: Vec<Brief> = (0..per_issue)
            .map(|n| {
                let mut b = common::brief(&mut rng, &words);
                b.headline = match n % 8 {
                    7 => format!("한반도 전도체 {}", b.headline),
                    _ => format!("반도체 {}", b.headline),
                };
                if n % 2 == 0 {
                    b.summary = format!("엔비디아 {}", b.summary);
                }
                b
            })
            .collect();
        let issue = common::issue(
            &format!("https://bench.example/issue/{i}"),
            format!("[{i}] 반도체 {}", briefs[0].headline),
            // Days in a scrambled order: 0, 29, 10, 39, …
            Some(start + chrono::Duration::days(i * 29 % issues)),
            common::sentence(&mut rng, &words, 30),
            briefs,
        );
        assert!(matches!(
            record(&store, "aitimes-briefing", &issue).await,
            Recorded::New { .. }
        ));
    }
    let queries = ["반도체", "엔비디아", "반도체 엔비디아", "칩", "AI"];
    let mut whole = Vec::new();
    testing::set_search_windows(&store, &[]).await.unwrap();
    for q in queries {
        for offset in [0, 5, 195] {
            whole.push(store.search_page(q, None, 5, offset).await.unwrap());
        }
    }
    assert_eq!(whole[0].total, 200, "the 200 best of 1,320");
    for offset in (0..200).step_by(5) {
        for hit in store
            .search_page("반도체", None, 5, offset)
            .await
            .unwrap()
            .hits
        {
            assert!(
                hit.headline.contains("반도체") || hit.summary.contains("반도체"),
                "{} found for 반도체",
                hit.headline
            );
        }
    }
    // A window that holds every term of the query in 1,000 documents but the phrase in fewer;
    // one that holds enough; one that does not and one that would (but 300 documents with 264
    // matches tell that 1,300 may not hold 1,000, so the whole index answers); and a window
    // larger than the index, never measured.
    for sizes in [&[1_100][..], &[1_300], &[300, 1_300], &[4_096]] {
        testing::set_search_windows(&store, sizes).await.unwrap();
        let mut windowed = Vec::new();
        for q in queries {
            for offset in [0, 5, 195] {
                windowed.push(store.search_page(q, None, 5, offset).await.unwrap());
            }
        }
        for (i, (w, a)) in windowed.iter().zip(&whole).enumerate() {
            let (q, offset) = (queries[i / 3], [0, 5, 195][i % 3]);
            assert_eq!(w, a, "{q} at offset {offset}, windows {sizes:?}");
        }
    }
}
