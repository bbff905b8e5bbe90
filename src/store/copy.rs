//! `briefbot migrate --from sqlite://…`: a SQLite database copied, every table and every row
//! with its ids, into an empty PostgreSQL database, in one transaction (all or nothing). The
//! search index is not copied but built again from the copied briefs and issues (PostgreSQL
//! indexes other terms than FTS5 stores), and each id sequence is moved past the copied ids.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};

use super::contract::BackendContract;
use super::{Backend, Result, Store, StoreError, postgres, sqlite};

/// How a column is read from SQLite and written to PostgreSQL.
#[derive(Clone, Copy)]
enum Col {
    Int,
    OptInt,
    Text,
    OptText,
    Time,
    OptTime,
    OptBytes,
}

use Col::{Int, OptBytes, OptInt, OptText, OptTime, Text, Time};

/// Every table, parents before children (foreign keys), with every column.
const TABLES: &[(&str, &[(&str, Col)])] = &[
    (
        "sources",
        &[
            ("id", Text),
            ("name", Text),
            ("last_attempt_at", OptTime),
            ("last_success_at", OptTime),
            ("last_error", OptText),
            ("last_error_at", OptTime),
            ("consecutive_failures", Int),
        ],
    ),
    (
        "http_validators",
        &[
            ("url", Text),
            ("etag", OptText),
            ("last_modified", OptText),
            ("updated_at", Time),
        ],
    ),
    (
        "issues",
        &[
            ("id", Int),
            ("source_id", Text),
            ("url", Text),
            ("title", Text),
            ("published_at", OptTime),
            ("first_seen_at", Time),
            ("lead", Text),
            ("body_text", Text),
            ("content_hash", Text),
            ("page_url", Text),
            ("page_html", Text),
            ("page_format", Text),
        ],
    ),
    (
        "issue_urls",
        &[
            ("url", Text),
            ("issue_id", Int),
            ("source_id", Text),
            ("first_seen_at", Time),
        ],
    ),
    (
        "briefs",
        &[
            ("id", Int),
            ("issue_id", Int),
            ("position", Int),
            ("headline", Text),
            ("summary", Text),
            ("headline_key", Text),
            ("story_id", Int),
            ("subject_key", Text),
            ("story_terms", OptBytes),
        ],
    ),
    (
        "similarity_bands",
        &[("kind", Text), ("band", Int), ("item_id", Int)],
    ),
    (
        "subscriptions",
        &[
            ("id", Int),
            ("guild_id", Int),
            ("channel_id", Int),
            ("source_key", Text),
            ("keywords", OptText),
            ("created_by", Int),
            ("created_at", Time),
            ("paused_at", OptTime),
            ("pause_reason", OptText),
        ],
    ),
    (
        "deliveries",
        &[
            ("id", Int),
            ("subscription_id", OptInt),
            ("channel_id", Int),
            ("issue_id", Int),
            ("kind", Text),
            ("keywords", OptText),
            ("status", Text),
            ("attempts", Int),
            ("not_before", Time),
            ("parts_sent", Int),
            ("last_error", OptText),
            ("created_at", Time),
            ("finished_at", OptTime),
            ("stories", OptText),
            ("refusals", Int),
            ("guild_id", OptInt),
        ],
    ),
    (
        "delivery_parts",
        &[
            ("delivery_id", Int),
            ("part", Int),
            ("body", Text),
            ("attempted_at", OptTime),
            ("message_id", OptInt),
        ],
    ),
    (
        "channel_stories",
        &[("channel_id", Int), ("story_id", Int), ("posted_at", Time)],
    ),
    (
        "channel_state",
        &[("channel_id", Int), ("history_denied_at", OptTime)],
    ),
    (
        "search_sessions",
        &[
            ("id", Int),
            ("user_id", Int),
            ("query", Text),
            ("source_id", OptText),
            ("total", Int),
            ("created_at", Time),
        ],
    ),
    (
        "entry_failures",
        &[
            ("url", Text),
            ("source_id", Text),
            ("title", Text),
            ("failures", Int),
            ("last_error", Text),
            ("first_failed_at", Time),
            ("next_try_at", Time),
            ("given_up_at", OptTime),
        ],
    ),
];

/// The tables whose `id` is generated, whose sequences follow the copied ids.
const WITH_IDS: &[&str] = &[
    "issues",
    "briefs",
    "subscriptions",
    "deliveries",
    "search_sessions",
];

/// Rows written per statement (PostgreSQL takes at most 65,535 parameters in one).
const BATCH: usize = 500;

/// What [`Store::copy_from`] copied: rows per table, in copy order.
pub type Copied = Vec<(&'static str, u64)>;

/// One value read from SQLite, to be bound in PostgreSQL.
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Time(Option<DateTime<Utc>>),
    Bytes(Option<Vec<u8>>),
}

impl Store {
    /// Copies every row of the SQLite database `from` into this one, which must be an empty
    /// PostgreSQL database (no issues, no subscriptions), then indexes the copied briefs and
    /// issues for search. One transaction: on any error nothing is copied.
    pub async fn copy_from(&self, from: &Store) -> Result<Copied> {
        let (Backend::Sqlite(source), Backend::Postgres(target)) = (&from.backend, &self.backend)
        else {
            return Err(StoreError::Other(
                "briefbot migrate --from copies a SQLite database (sqlite://…) into PostgreSQL (DATABASE_URL=postgres://…)".into(),
            ));
        };
        copy(source, target).await
    }
}

async fn copy(source: &sqlite::Backend, target: &postgres::Backend) -> Result<Copied> {
    let mut tx = target.pool().begin().await?;
    // The copy reads each SQLite table while its transaction waits, and inserts in large
    // batches: neither bound of the pool's connections applies to it.
    postgres::Backend::unbounded(&mut tx).await?;
    // Every table the copy fills must be empty (before issue 19 only issues and subscriptions
    // were looked at: a database holding, say, other sources or searches was mixed into).
    let mut occupied = Vec::new();
    for (table, _) in TABLES {
        // Names come from the constant table above, never from input.
        let any = format!("SELECT EXISTS (SELECT 1 FROM {table})");
        let held: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(any))
            .fetch_one(&mut *tx)
            .await?;
        if held {
            occupied.push(*table);
        }
    }
    if !occupied.is_empty() {
        return Err(StoreError::Other(format!(
            "the PostgreSQL database already holds rows in {}: copy into an empty database",
            occupied.join(", ")
        )));
    }
    // Every table is read in one SQLite read transaction, so the copy is one snapshot even if
    // a process still writes the file meanwhile (WAL readers see the database as it was at
    // their first read): a delivery cannot arrive without its parts, nor a brief without its
    // issue.
    let mut snapshot = source.pool().begin().await?;
    let mut copied = Vec::with_capacity(TABLES.len());
    for (table, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        // Names come from the constant table above, never from input.
        let select = format!("SELECT {} FROM {table} ORDER BY 1", names.join(", "));
        let rows = sqlx::query(sqlx::AssertSqlSafe(select))
            .fetch_all(&mut *snapshot)
            .await?;
        let mut values: Vec<Vec<Value>> = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut row_values = Vec::with_capacity(columns.len());
            for (i, (name, col)) in columns.iter().enumerate() {
                let unreadable = |e: sqlx::Error| {
                    StoreError::unreadable(format!("{table}.{name} of a SQLite row: {e}"))
                };
                row_values.push(match col {
                    Int => Value::Int(Some(row.try_get(i).map_err(unreadable)?)),
                    OptInt => Value::Int(row.try_get(i).map_err(unreadable)?),
                    Text => Value::Text(Some(row.try_get(i).map_err(unreadable)?)),
                    OptText => Value::Text(row.try_get(i).map_err(unreadable)?),
                    Time => Value::Time(Some(row.try_get(i).map_err(unreadable)?)),
                    OptTime => Value::Time(row.try_get(i).map_err(unreadable)?),
                    OptBytes => Value::Bytes(row.try_get(i).map_err(unreadable)?),
                });
            }
            values.push(row_values);
        }
        for batch in values.chunks(BATCH) {
            let mut insert = QueryBuilder::<sqlx::Postgres>::new(format!(
                "INSERT INTO {table} ({}) ",
                names.join(", ")
            ));
            insert.push_values(batch, |mut row, values| {
                for value in values {
                    match value {
                        Value::Int(v) => row.push_bind(*v),
                        Value::Text(v) => row.push_bind(v.clone()),
                        Value::Time(v) => row.push_bind(*v),
                        Value::Bytes(v) => row.push_bind(v.clone()),
                    };
                }
            });
            insert.build().execute(&mut *tx).await?;
        }
        copied.push((*table, values.len() as u64));
    }
    for table in WITH_IDS {
        let move_past = format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
        );
        sqlx::query(sqlx::AssertSqlSafe(move_past))
            .execute(&mut *tx)
            .await?;
    }
    snapshot.rollback().await?;
    tx.commit().await?;
    target.index_all().await?;
    Ok(copied)
}
