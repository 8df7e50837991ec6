//! Polling cursors (with a lease, so one process polls a source at a time) and credentials that
//! connectors rotate themselves.

use super::{Store, StoreError, now_ms, on_db, on_read};
use secrecy::{ExposeSecret, SecretString};

impl Store {
    /// Take the cursor named `name` for `ttl_ms` unless another process holds it. Returns the
    /// stored position (`None` when the cursor is new: the caller decides where to begin).
    pub async fn claim_cursor(
        &self,
        name: &str,
        owner: &str,
        ttl_ms: i64,
    ) -> Result<Option<Option<i64>>, StoreError> {
        let now = now_ms();
        let insert = "INSERT INTO sync_cursors (name, position, lease_owner, lease_until, updated_at) \
            VALUES ($1, -1, NULL, NULL, $2) ON CONFLICT (name) DO NOTHING";
        on_db!(self, pool => sqlx::query(insert).bind(name).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        let claim = "UPDATE sync_cursors SET lease_owner = $1, lease_until = $2 \
            WHERE name = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $4) \
            RETURNING position";
        let position: Option<i64> = on_db!(self, pool => sqlx::query_scalar(claim)
            .bind(owner)
            .bind(now + ttl_ms)
            .bind(name)
            .bind(now)
            .fetch_optional(pool)
            .await)?;
        Ok(position.map(|p| (p >= 0).then_some(p)))
    }

    /// Move a held cursor forward (never backward) and keep holding it.
    pub async fn advance_cursor(
        &self,
        name: &str,
        owner: &str,
        position: i64,
    ) -> Result<(), StoreError> {
        let query = "UPDATE sync_cursors SET position = CASE WHEN position > $1 THEN position ELSE $1 END, \
            updated_at = $2 WHERE name = $3 AND lease_owner = $4";
        on_db!(self, pool => sqlx::query(query)
            .bind(position)
            .bind(now_ms())
            .bind(name)
            .bind(owner)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn release_cursor(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        let query = "UPDATE sync_cursors SET lease_owner = NULL, lease_until = NULL \
            WHERE name = $1 AND lease_owner = $2";
        on_db!(self, pool => sqlx::query(query).bind(name).bind(owner).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Set a cursor's position outright (backfill).
    pub async fn set_cursor(&self, name: &str, position: i64) -> Result<(), StoreError> {
        let query = "INSERT INTO sync_cursors (name, position, updated_at) VALUES ($1, $2, $3) \
            ON CONFLICT (name) DO UPDATE SET position = $2, updated_at = $3";
        on_db!(self, pool => sqlx::query(query).bind(name).bind(position).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn load_credential(&self, name: &str) -> Result<Option<SecretString>, StoreError> {
        let value: Option<String> = on_read!(self, pool => sqlx::query_scalar("SELECT value FROM vendor_credentials WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await)?;
        Ok(value.map(SecretString::from))
    }

    pub async fn save_credential(
        &self,
        name: &str,
        value: &SecretString,
    ) -> Result<(), StoreError> {
        let query = "INSERT INTO vendor_credentials (name, value, updated_at) VALUES ($1, $2, $3) \
            ON CONFLICT (name) DO UPDATE SET value = $2, updated_at = $3";
        on_db!(self, pool => sqlx::query(query)
            .bind(name)
            .bind(value.expose_secret())
            .bind(now_ms())
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
