//! The filesystem adapter of the domain's [`FileStore`] port: uploads live under the media
//! root as `attachments/YYYY/MM/DD/<random hex>` — server-generated names only, so a client's
//! file name never reaches the filesystem (W13). Uploads are written to `tmp/` under the same
//! root first and renamed into place once complete (same filesystem: the rename is atomic).

use desk_domain::ports::FileStore;
use desk_domain::DomainError;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Where attachments go and how large one may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSettings {
    pub media_root: PathBuf,
    pub max_bytes: u64,
}

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            media_root: PathBuf::from("media"),
            max_bytes: 524_288_000,
        }
    }
}

/// Files under one root directory.
#[derive(Debug, Clone)]
pub struct FsFileStore {
    root: PathBuf,
}

fn storage(error: io::Error) -> DomainError {
    DomainError::Storage(format!("file store: {error}"))
}

fn random_name() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl FsFileStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsFileStore { root: root.into() }
    }

    /// A fresh staging path (its directory created) for an upload being received.
    pub fn staging_path(&self) -> io::Result<PathBuf> {
        let dir = self.root.join("tmp");
        std::fs::create_dir_all(&dir)?;
        Ok(dir.join(format!("{}.part", random_name())))
    }

    /// Removes staging files not written to for longer than `age` (left by a crash; a request
    /// that ends removes its own). Active uploads stay: every write refreshes the mtime, and
    /// the margin covers other processes sharing the media root. Returns how many went.
    pub fn sweep_staging(&self, age: Duration) -> io::Result<usize> {
        let entries = match std::fs::read_dir(self.root.join("tmp")) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let stale = meta
                .modified()
                .ok()
                .and_then(|at| now.duration_since(at).ok())
                .is_some_and(|idle| idle > age);
            if meta.is_file() && stale && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The path of a stored key; `None` for anything that is not a plain relative path (a
    /// key is ours, but a path never leaves the root whatever the database holds).
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        let relative = Path::new(key);
        let plain = !key.is_empty()
            && relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        plain.then(|| self.root.join(relative))
    }
}

impl FileStore for FsFileStore {
    fn put(&self, staged: &Path) -> Result<String, DomainError> {
        let day = chrono::Utc::now().format("%Y/%m/%d");
        let key = format!("attachments/{day}/{}", random_name());
        let target = self.root.join(&key);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(storage)?;
        }
        std::fs::rename(staged, &target).map_err(storage)?;
        Ok(key)
    }

    fn open(&self, key: &str) -> Result<(Box<dyn io::Read + Send>, u64), DomainError> {
        let path = self.path_of(key).ok_or(DomainError::NotFound)?;
        let file = std::fs::File::open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => DomainError::NotFound,
            _ => storage(e),
        })?;
        let size = file.metadata().map_err(storage)?.len();
        Ok((Box::new(file), size))
    }

    fn delete(&self, key: &str) -> Result<(), DomainError> {
        let Some(path) = self.path_of(key) else {
            return Ok(());
        };
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(storage(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn keys_are_generated_and_never_escape_the_root() {
        let root = std::env::temp_dir().join(format!("desk-files-{}", random_name()));
        let store = FsFileStore::new(&root);
        let staged = store.staging_path().unwrap();
        std::fs::write(&staged, b"hello").unwrap();
        let key = store.put(&staged).unwrap();
        assert!(key.starts_with("attachments/") && !staged.exists());
        let (mut reader, size) = store.open(&key).unwrap();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!((text.as_str(), size), ("hello", 5));
        for bad in ["../etc/passwd", "/etc/passwd", "a/../../b", ""] {
            assert!(store.path_of(bad).is_none(), "{bad}");
        }
        store.delete(&key).unwrap();
        store.delete(&key).unwrap();
        assert!(matches!(store.open(&key), Err(DomainError::NotFound)));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_sweep_removes_only_stale_staging_files() {
        let root = std::env::temp_dir().join(format!("desk-files-{}", random_name()));
        let store = FsFileStore::new(&root);
        assert_eq!(store.sweep_staging(Duration::from_secs(3600)).unwrap(), 0);
        let (stale, fresh) = (store.staging_path().unwrap(), store.staging_path().unwrap());
        for path in [&stale, &fresh] {
            std::fs::write(path, b"part").unwrap();
        }
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        assert_eq!(store.sweep_staging(Duration::from_secs(3600)).unwrap(), 1);
        assert!(!stale.exists() && fresh.exists());
        std::fs::remove_dir_all(root).unwrap();
    }
}
