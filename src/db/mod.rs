//! Database plumbing: the connection pool, migrations and the private PostgreSQL cluster.

pub mod embedded;
pub mod ownership;
pub mod pool;
pub mod schema;

pub use pool::{build_pool, run_migrations, Pool, PoolOptions};
