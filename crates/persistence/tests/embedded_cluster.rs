//! A private cluster in a temporary directory: start, connect, migrate, stop, restart.

use desk_persistence::embedded::PrivateCluster;
use desk_persistence::Database;

#[test]
fn private_cluster_starts_migrates_and_stops() {
    let dir = std::env::temp_dir().join(format!("desk-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let mut cluster = PrivateCluster::start(&dir).expect("start");
        assert!(cluster
            .database_url()
            .starts_with("postgres:///desk?host=/"));
        let db = Database::connect(&cluster.database_url(), 2).expect("connect over the socket");
        assert!(db.migrate().expect("migrate") > 0);
        assert!(db.ping());
        drop(db);
        cluster.stop().expect("stop");
        assert!(
            Database::connect(&cluster.database_url(), 1).is_err(),
            "stopped"
        );
    }
    // An existing data directory is reused (no second initdb) and keeps its schema.
    {
        let cluster = PrivateCluster::start(&dir).expect("restart");
        let db = Database::connect(&cluster.database_url(), 1).expect("connect");
        assert!(db.migrations_current().expect("check"));
    } // dropped: stopped
    std::fs::remove_dir_all(&dir).expect("clean up");
}
