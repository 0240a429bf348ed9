//! `embed_migrations!` reads `migrations/` at compile time, but a proc macro cannot tell
//! cargo to rebuild when a migration is added or edited (diesel_migrations, "Automatic
//! rebuilds"). This script does, so a build never ships a stale list of migrations.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    // Declaring one rerun condition turns off cargo's default (any file of the package).
    println!("cargo:rerun-if-changed=Cargo.toml");
}
