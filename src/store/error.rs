//! The store's error: the kinds its callers branch on, with nothing of the driver in them.
//! sqlx's errors are sorted into those kinds here, once (`From<sqlx::Error>`); their text stays
//! in the message, which is what operators read.

/// What went wrong in the store, by what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached, opened or locked, or gives up on a call for reasons of
    /// its own (I/O, TLS, the pool's timeout, a server shutting down, a statement timeout, a
    /// lock not granted): whatever is asked meets it alike, and later may work.
    #[error("{0}")]
    Unavailable(String),
    /// Stored data that cannot be used as it is: a value that cannot be read back (a frozen
    /// delivery part, a column that does not decode), or a write that clashes with a key or a
    /// constraint. Asking again cannot fix it.
    #[error("{0}")]
    Corrupt(String),
    /// Something the store's own rules say cannot happen did: a bug, reported as one.
    #[error("store invariant broken: {0}")]
    Invariant(&'static str),
    /// Another process runs on this SQLite file (README: Deployment: one process per file): the
    /// whole line to show.
    #[error("{0}")]
    InUse(String),
    /// This process no longer holds the scheduler lease: another took it (this one hung, or lost
    /// the database for longer than the lease), so none of its work may be written any more.
    #[error("this process no longer holds the scheduler lease; its work is not written")]
    LeaseLost,
    /// Anything else (a failed migration, a statement the database refuses, a copy refused by
    /// `briefbot migrate --from`): the whole message.
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// A stored value that cannot be read back: `what` says which, and why.
    pub(super) fn unreadable(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(format!("stored data is unreadable: {what}"))
    }

    /// The database at `url` (as it may be shown: no password) cannot be opened.
    pub(super) fn cannot_open(url: &str, e: sqlx::Error) -> Self {
        Self::Unavailable(format!("cannot open the database {url}: {e}"))
    }

    pub(super) fn migration(e: sqlx::migrate::MigrateError) -> Self {
        Self::Other(format!("database migration failed: {e}"))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let message = format!("database error: {e}");
        match Kind::of(&e) {
            Kind::Unavailable => Self::Unavailable(message),
            Kind::Corrupt => Self::Corrupt(message),
            Kind::Other => Self::Other(message),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Unavailable,
    Corrupt,
    Other,
}

impl Kind {
    fn of(e: &sqlx::Error) -> Self {
        use sqlx::Error as E;
        match e {
            E::Io(_)
            | E::Tls(_)
            | E::Protocol(_)
            | E::PoolTimedOut
            | E::PoolClosed
            | E::WorkerCrashed => Kind::Unavailable,
            E::ColumnDecode { .. } | E::Decode(_) => Kind::Corrupt,
            E::Database(db) => match db.kind() {
                sqlx::error::ErrorKind::Other => match db.code() {
                    Some(code) if gives_up(&code) => Kind::Unavailable,
                    _ => Kind::Other,
                },
                // A key, foreign key, NOT NULL, CHECK or exclusion constraint: the data as it
                // is clashes with what is stored.
                _ => Kind::Corrupt,
            },
            _ => Kind::Other,
        }
    }
}

/// Whether a database error code (PostgreSQL's SQLSTATE, SQLite's extended result code) says
/// the database gave up on the call for reasons of its own rather than refused the statement.
fn gives_up(code: &str) -> bool {
    // PostgreSQL: connection exceptions (08…), insufficient resources (53…), operator
    // intervention (57…: a statement timeout, a shutdown), a transaction that timed out idle
    // (25P03) or could not get its lock (55P03), a serialization failure or deadlock (40…).
    const SQLSTATE_CLASSES: [&str; 4] = ["08", "53", "57", "40"];
    const SQLSTATES: [&str; 2] = ["25P03", "55P03"];
    if code.len() == 5 {
        return SQLSTATE_CLASSES.iter().any(|c| code.starts_with(c)) || SQLSTATES.contains(&code);
    }
    // SQLite's extended codes keep the primary code in their low byte: BUSY (5), LOCKED (6),
    // NOMEM (7), IOERR (10), FULL (13), CANTOPEN (14).
    code.parse::<i32>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 10 | 13 | 14))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_giving_up_is_told_from_a_statement_it_refuses() {
        // PostgreSQL: a statement timeout, an administrator's shutdown, a lost connection.
        for code in [
            "57014", "57P01", "08006", "25P03", "55P03", "40001", "53300",
        ] {
            assert!(gives_up(code), "{code}");
        }
        // A syntax error, an undefined table, a division by zero.
        for code in ["42601", "42P01", "22012"] {
            assert!(!gives_up(code), "{code}");
        }
        // SQLite: BUSY, BUSY_SNAPSHOT (517), IOERR_WRITE (778), CANTOPEN; not ERROR (1) or
        // CORRUPT (11), which says nothing of the database being away.
        for code in ["5", "517", "778", "14"] {
            assert!(gives_up(code), "{code}");
        }
        for code in ["1", "11", "", "x"] {
            assert!(!gives_up(code), "{code}");
        }
    }

    #[test]
    fn driver_errors_become_the_kinds_callers_branch_on_and_keep_their_text() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let unavailable = StoreError::from(sqlx::Error::Io(io));
        assert!(matches!(&unavailable, StoreError::Unavailable(m) if m.contains("reset by peer")));
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        let decode = StoreError::from(sqlx::Error::Decode("not a time".into()));
        assert!(matches!(&decode, StoreError::Corrupt(m) if m.contains("not a time")));
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Other(_)
        ));
    }

    #[tokio::test]
    async fn a_key_clash_is_corrupt_and_a_refused_statement_is_other() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .unwrap();
        let insert = || sqlx::query("INSERT INTO t (id) VALUES (1)").execute(&pool);
        insert().await.unwrap();
        let clash = StoreError::from(insert().await.unwrap_err());
        assert!(
            matches!(&clash, StoreError::Corrupt(m) if m.contains("UNIQUE")),
            "{clash:?}"
        );
        let refused = sqlx::query("SELECT * FROM missing").execute(&pool).await;
        let refused = StoreError::from(refused.unwrap_err());
        assert!(
            matches!(&refused, StoreError::Other(m) if m.contains("missing")),
            "{refused:?}"
        );
    }
}
