//! What the PostgreSQL tests share.

/// A tokio runtime for the async host: two workers, so the kit's threads and the pool's
/// connections run side by side.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
