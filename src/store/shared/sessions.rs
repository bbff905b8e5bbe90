//! Searches remembered so their pages can be turned, also after a restart.

use chrono::{DateTime, Utc};

use super::Backend;
use crate::store::contract::BackendContract;
use crate::store::search::Session;
use crate::store::{Result, now};

impl Backend {
    pub async fn create_session(
        &self,
        user_id: i64,
        query: &str,
        source: Option<&str>,
        total: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO search_sessions (user_id, query, source_id, total, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(query)
        .bind(source)
        .bind(total)
        .bind(now())
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn session(&self, id: i64) -> Result<Option<Session>> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, query, source_id, total, created_at FROM search_sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn update_session_total(&self, id: i64, total: i64) -> Result<()> {
        sqlx::query("UPDATE search_sessions SET total = $2 WHERE id = $1")
            .bind(id)
            .bind(total)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn expire_sessions(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM search_sessions WHERE created_at < $1")
                .bind(before)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
