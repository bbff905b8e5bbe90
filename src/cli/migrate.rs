//! `briefbot migrate [--from SQLITE_URL]`.

use std::process::ExitCode;

use super::MigrateArgs;
use crate::config::{ConfigError, Settings};
use crate::store::Store;

pub(super) async fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_env()?;
    let Some(from) = args.from else {
        Store::open(&settings.database_url).await?;
        eprintln!("{}: migrations applied", settings.database_url);
        return Ok(ExitCode::SUCCESS);
    };
    let source = match crate::config::DatabaseUrl::parse(&from) {
        Ok(url @ crate::config::DatabaseUrl::Sqlite(_)) => url,
        _ => {
            return Err(ConfigError {
                origin: "command line".into(),
                field: "--from".into(),
                message: "expected the SQLite database to copy, as a sqlite:// URL (sqlite://briefbot.db)".into(),
            }
            .into());
        }
    };
    if !matches!(
        settings.database_url,
        crate::config::DatabaseUrl::Postgres(_)
    ) {
        return Err(ConfigError {
            origin: "environment".into(),
            field: "DATABASE_URL".into(),
            message: "migrate --from copies into PostgreSQL: set DATABASE_URL to the postgres:// URL of an empty database".into(),
        }
        .into());
    }
    let from_store = Store::open_existing(&source).await?;
    let to_store = Store::open(&settings.database_url).await?;
    let copied = to_store.copy_from(&from_store).await?;
    let rows: Vec<String> = copied
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect();
    eprintln!(
        "copied {source} into {}: {}; search index built",
        settings.database_url,
        rows.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
