//! The SQL both backends share, written once and compiled for each: this module is
//! `sqlite::shared` and `postgres::shared` (a `#[path]` module of each), and reaches its backend
//! only through `super::Backend` and the contract it implements ([`crate::store::contract`],
//! which says why the code is not generic instead). The SQL here is what SQLite and PostgreSQL
//! share: `$N` parameters, `ON CONFLICT`, `RETURNING`, `COUNT(*) FILTER`; what differs lives in
//! each backend's own modules.

use super::Backend;
use crate::store::contract::BackendContract;

mod issues;
pub(super) mod outbox;
mod sessions;
#[cfg(feature = "testing")]
pub(super) mod testing;

pub(in crate::store) use issues::StoryLookup;

/// The backend's driver, as a concrete type: every query below is checked against it.
type Db = <Backend as BackendContract>::Db;
type Conn = <Db as sqlx::Database>::Connection;
type DbRow = <Db as sqlx::Database>::Row;
type Pool = sqlx::Pool<Db>;

/// `$first, $first+1, …` for `count` parameters: the only thing besides constants formatted
/// into SQL (the values themselves are bound).
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
