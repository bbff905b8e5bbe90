//! Rebuilds when a migration changes: `sqlx::migrate!` embeds the `migrations/` folders in the
//! binary, and cargo alone would not see an edited `.sql` file.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
