//! PostgreSQL's errors as the library's: what failed, in words for the log, never the
//! connection string (it may hold a password).

use kaigo_seikyu::ports::PortError;
use kaigo_seikyu::store::StoreError;
use tokio_postgres::error::SqlState;

/// The error in words: the client's kind, then the server's message or the cause.
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("PostgreSQL: {} ({})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("PostgreSQL: {e}: {cause}"),
        None => format!("PostgreSQL: {e}"),
    }
}

/// Whether the server refused a transaction for a race with another (a deadlock, a
/// serialization failure, or a compare-and-swap write that did not take, which `kaigo_commit`
/// raises as [`sql::CONFLICT_STATE`](crate::sql::CONFLICT_STATE)): the commit wrote nothing and
/// the driver may run the request again.
pub fn is_race(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::T_R_SERIALIZATION_FAILURE
            || c.code() == crate::sql::CONFLICT_STATE
    )
}

/// A store call's failure: a lost race is a [`StoreError::Conflict`], anything else
/// [`StoreError::Unavailable`] (nothing was written: every write is in one transaction).
pub fn store_error(e: tokio_postgres::Error) -> StoreError {
    if is_race(&e) {
        StoreError::Conflict
    } else {
        StoreError::Unavailable(describe(&e))
    }
}

/// A port call's failure.
pub fn port_error(e: tokio_postgres::Error) -> PortError {
    PortError(describe(&e))
}

/// A store error as a port's.
pub fn to_port(e: StoreError) -> PortError {
    PortError(e.to_string())
}
