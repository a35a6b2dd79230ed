//! Versioned migrations, run at start-up in one transaction under an advisory lock: safe to run
//! again, and from two processes at once; a schema newer than this crate is refused before
//! anything is written.

use kaigo_seikyu::store::StoreError;

use crate::db::Db;
use crate::error::store_error;
use crate::sql;

/// Brings `schema` to [`sql::LATEST`], inside the caller's transaction (the caller commits on
/// `Ok`, and rolls back otherwise: all migrations or none). Creates the schema first when
/// `create` is set and it is missing. Another process migrating the same schema is waited for
/// (the lock), then finds nothing to do.
pub async fn migrate<D: Db>(db: &mut D, schema: &str, create: bool) -> Result<(), StoreError> {
    db.rows(sql::MIGRATION_LOCK, &[&schema])
        .await
        .map_err(store_error)?;
    if create
        && db
            .rows(sql::SCHEMA_EXISTS, &[&schema])
            .await
            .map_err(store_error)?
            .is_empty()
    {
        // The name was checked by `crate::check_schema_name`: lowercase letters, digits, '_'.
        db.batch(&format!("CREATE SCHEMA \"{schema}\""))
            .await
            .map_err(store_error)?;
    }
    let current: Option<String> = db
        .rows(sql::CURRENT_SCHEMA, &[])
        .await
        .map_err(store_error)?
        .first()
        .and_then(|row| row.get(0));
    if current.as_deref() != Some(schema) {
        return Err(StoreError::Unavailable(format!(
            "the connection's search_path puts schema {current:?} first, not {schema:?}; nothing was written"
        )));
    }
    let has: bool = db
        .rows(sql::HAS_MIGRATIONS, &[])
        .await
        .map_err(store_error)?
        .first()
        .is_some_and(|row| row.get(0));
    let applied: Vec<i32> = if has {
        db.rows(sql::APPLIED, &[])
            .await
            .map_err(store_error)?
            .iter()
            .map(|row| row.get(0))
            .collect()
    } else {
        Vec::new()
    };
    let found = applied.last().copied().unwrap_or(0);
    if found > sql::LATEST {
        return Err(StoreError::Unavailable(format!(
            "schema {schema:?} is at version {found}, newer than this host knows ({}); upgrade \
             kaigo-seikyu-postgres. Nothing was written",
            sql::LATEST
        )));
    }
    if !applied.iter().copied().eq(1..=found) {
        return Err(StoreError::Corrupt(format!(
            "schema {schema:?} records the migrations {applied:?}, not 1 to {found}; nothing was written"
        )));
    }
    let pending = usize::try_from(found)
        .ok()
        .and_then(|n| sql::MIGRATIONS.get(n..))
        .unwrap_or_default();
    for (n, (description, statements)) in (found + 1..).zip(pending) {
        db.batch(statements).await.map_err(|e| {
            StoreError::Unavailable(format!(
                "migration {n} ({description}) of schema {schema:?} failed, nothing was written: {}",
                crate::error::describe(&e)
            ))
        })?;
        db.exec(sql::RECORD_MIGRATION, &[&n, description])
            .await
            .map_err(store_error)?;
    }
    Ok(())
}
