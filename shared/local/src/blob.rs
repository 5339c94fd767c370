//! BlobStore on the file system: `<root>/<bucket>/<key>`. Writes go to a temporary file in the
//! bucket's `.tmp/` folder and are renamed into place, so readers never see half an object.
//! Keys are `BlobKey`s, which cannot contain `..`, so nothing is written outside the root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tollgate_domain::ports::{BlobStore, LocalObject, ObjectMeta, Page, PageRequest, PresignedPut};
use tollgate_domain::{BlobKey, BucketName, ObjectRef, PortError};

use crate::error::io;

const TMP_DIR: &str = ".tmp";

#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A folder for work files on this store's file system, outside every key: a file written
    /// there and then put is linked into place, not copied (an ingest's Parquet copy of a 16 GB
    /// upload would otherwise need its size twice on disk), and it never lands in a RAM-backed
    /// `/tmp`.
    pub fn scratch_dir(&self, bucket: &BucketName) -> std::io::Result<PathBuf> {
        let dir = self.bucket_dir(bucket).join(TMP_DIR).join("work");
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// The file holding an object (which may not exist).
    pub fn path_of(&self, bucket: &BucketName, key: &BlobKey) -> PathBuf {
        let mut path = self.root.join(bucket.as_str());
        path.extend(key.segments());
        path
    }

    fn bucket_dir(&self, bucket: &BucketName) -> PathBuf {
        self.root.join(bucket.as_str())
    }

    fn meta(key: &BlobKey, path: &Path) -> Result<ObjectMeta, PortError> {
        let md =
            std::fs::metadata(path).map_err(|e| io(format!("reading {}", path.display()), e))?;
        let mtime = md
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        // Every write renames a new file into place: its inode tells two writes apart even
        // within one tick of the file-system clock.
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&md);
        #[cfg(not(unix))]
        let inode = 0u64;
        Ok(ObjectMeta {
            key: key.clone(),
            size: md.len(),
            etag: Some(format!("{:x}-{:x}-{:x}", md.len(), mtime, inode)),
            version_id: None,
            uploaded_by: None,
            last_modified: md
                .modified()
                .ok()
                .and_then(|t| jiff::Timestamp::try_from(t).ok()),
        })
    }

    /// Writes `fill` into a temporary file of the bucket and returns it, ready to be moved.
    fn stage(
        &self,
        bucket: &BucketName,
        fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
    ) -> Result<tempfile::NamedTempFile, PortError> {
        let tmp_dir = self.bucket_dir(bucket).join(TMP_DIR);
        std::fs::create_dir_all(&tmp_dir)
            .map_err(|e| io(format!("creating {}", tmp_dir.display()), e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir).map_err(|e| {
            io(
                format!("creating a temporary file in {}", tmp_dir.display()),
                e,
            )
        })?;
        fill(tmp.as_file_mut())
            .and_then(|()| tmp.as_file_mut().sync_all())
            .map_err(|e| io(format!("writing {}", tmp.path().display()), e))?;
        Ok(tmp)
    }

    fn ensure_parent(path: &Path) -> Result<(), PortError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| io(format!("creating {}", parent.display()), e))?;
        }
        Ok(())
    }

    /// Puts a file of this store at `key` by a hard link. Objects are never written in place (a
    /// put renames a new file over the name), so a link is a copy that costs nothing and can
    /// never change under the source.
    fn link_sync(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        src: &Path,
    ) -> Result<ObjectMeta, PortError> {
        let dest = self.path_of(bucket, key);
        Self::ensure_parent(&dest)?;
        let tmp_dir = self.bucket_dir(bucket).join(TMP_DIR);
        std::fs::create_dir_all(&tmp_dir)
            .map_err(|e| io(format!("creating {}", tmp_dir.display()), e))?;
        let linked = tempfile::Builder::new()
            .make_in(&tmp_dir, |path| std::fs::hard_link(src, path))
            .map_err(|e| io(format!("linking {}", src.display()), e))?;
        linked
            .persist(&dest)
            .map_err(|e| io(format!("moving a copy into {}", dest.display()), e.error))?;
        Self::meta(key, &dest)
    }

    fn put_sync(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
    ) -> Result<ObjectMeta, PortError> {
        let dest = self.path_of(bucket, key);
        Self::ensure_parent(&dest)?;
        let tmp = self.stage(bucket, fill)?;
        tmp.persist(&dest)
            .map_err(|e| io(format!("moving an object into {}", dest.display()), e.error))?;
        Self::meta(key, &dest)
    }

    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && name == TMP_DIR {
                continue;
            }
            let key = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if entry.file_type()?.is_dir() {
                Self::walk(&entry.path(), &key, out)?;
            } else {
                out.push(key);
            }
        }
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PortError> + Send + 'static,
) -> Result<T, PortError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PortError::other("a file-system task failed", e))?
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        body: Bytes,
    ) -> Result<ObjectMeta, PortError> {
        let (this, bucket, key) = (self.clone(), bucket.clone(), key.clone());
        blocking(move || this.put_sync(&bucket, &key, |f| f.write_all(&body))).await
    }

    async fn put_file(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        path: &Path,
    ) -> Result<ObjectMeta, PortError> {
        let (this, bucket, key, src) = (self.clone(), bucket.clone(), key.clone(), path.to_owned());
        blocking(move || {
            // A file this store handed out (a fetched object's link) is never written in place
            // either: linked, an upload kept as its version's original costs no second copy.
            let inside = |p: &Path| p.canonicalize().ok();
            if let (Some(file), Some(root)) = (inside(&src), inside(&this.root))
                && file.starts_with(&root)
                && file.is_file()
            {
                return this.link_sync(&bucket, &key, &file);
            }
            let mut input = std::fs::File::open(&src)
                .map_err(|e| io(format!("opening {}", src.display()), e))?;
            this.put_sync(&bucket, &key, |f| std::io::copy(&mut input, f).map(|_| ()))
        })
        .await
    }

    async fn create(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        body: Bytes,
    ) -> Result<Option<ObjectMeta>, PortError> {
        let (this, bucket, key) = (self.clone(), bucket.clone(), key.clone());
        blocking(move || {
            let dest = this.path_of(&bucket, &key);
            Self::ensure_parent(&dest)?;
            let tmp = this.stage(&bucket, |f| f.write_all(&body))?;
            // A hard link fails if the name exists: an atomic create-if-absent.
            match std::fs::hard_link(tmp.path(), &dest) {
                Ok(()) => Self::meta(&key, &dest).map(Some),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
                Err(e) => Err(io(format!("creating {}", dest.display()), e)),
            }
        })
        .await
    }

    async fn get(&self, bucket: &BucketName, key: &BlobKey) -> Result<Bytes, PortError> {
        let path = self.path_of(bucket, key);
        let key = key.clone();
        blocking(move || {
            std::fs::read(&path)
                .map(Bytes::from)
                .map_err(|e| io(format!("reading object {key}"), e))
        })
        .await
    }

    async fn fetch(&self, bucket: &BucketName, key: &BlobKey) -> Result<LocalObject, PortError> {
        let (this, bucket, key) = (self.clone(), bucket.clone(), key.clone());
        blocking(move || {
            let src = this.path_of(&bucket, &key);
            Self::meta(&key, &src)?;
            // A hard link to the bytes as they are now: a later put renames another file over
            // the name and leaves these as they were, so what a caller hashes is what it keeps.
            let tmp_dir = this.bucket_dir(&bucket).join(TMP_DIR);
            std::fs::create_dir_all(&tmp_dir)
                .map_err(|e| io(format!("creating {}", tmp_dir.display()), e))?;
            // In a folder of its own, under the object's own file name: readers tell a format
            // by its extension.
            let folder = tempfile::Builder::new()
                .prefix("fetch-")
                .tempdir_in(&tmp_dir)
                .map_err(|e| io(format!("creating a folder in {}", tmp_dir.display()), e))?;
            let linked = folder.path().join(key.file_name());
            // A put renaming another file over the name between this link's lookup and the
            // link itself leaves nothing to link (ENOENT on Linux): link the new one.
            let mut attempts = 0;
            while let Err(e) = std::fs::hard_link(&src, &linked) {
                attempts += 1;
                if e.kind() != std::io::ErrorKind::NotFound || !src.exists() || attempts > 16 {
                    return Err(io(format!("reading {}", src.display()), e));
                }
            }
            let meta = Self::meta(&key, &linked)?;
            Ok(LocalObject::temporary(linked, meta, Box::new(folder)))
        })
        .await
    }

    async fn head(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
    ) -> Result<Option<ObjectMeta>, PortError> {
        let path = self.path_of(bucket, key);
        match Self::meta(key, &path) {
            Ok(meta) if path.is_file() => Ok(Some(meta)),
            Ok(_) | Err(PortError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, bucket: &BucketName, prefix: &str) -> Result<Vec<ObjectMeta>, PortError> {
        let (this, bucket, prefix) = (self.clone(), bucket.clone(), prefix.to_owned());
        blocking(move || {
            let dir = this.bucket_dir(&bucket);
            let mut keys = Vec::new();
            Self::walk(&dir, "", &mut keys)
                .map_err(|e| io(format!("listing {}", dir.display()), e))?;
            keys.sort();
            keys.into_iter()
                .filter(|k| k.starts_with(&prefix))
                .filter_map(|k| BlobKey::parse(&k).ok())
                .map(|k| Self::meta(&k, &this.path_of(&bucket, &k)))
                .collect()
        })
        .await
    }

    async fn list_page(
        &self,
        bucket: &BucketName,
        prefix: &str,
        page: &PageRequest,
    ) -> Result<Page<ObjectMeta>, PortError> {
        let (this, bucket, prefix) = (self.clone(), bucket.clone(), prefix.to_owned());
        let (after, size) = (page.cursor.clone(), page.size());
        blocking(move || {
            // Only the folder the prefix names is walked, not the whole bucket.
            let folder = prefix.rsplit_once('/').map_or("", |(folder, _)| folder);
            let dir = this.bucket_dir(&bucket).join(folder);
            let mut keys = Vec::new();
            Self::walk(&dir, folder, &mut keys)
                .map_err(|e| io(format!("listing {}", dir.display()), e))?;
            keys.sort();
            let fetched = keys
                .into_iter()
                .filter(|k| {
                    k.starts_with(&prefix) && after.as_deref().is_none_or(|a| k.as_str() > a)
                })
                .take(size + 1)
                .filter_map(|k| BlobKey::parse(&k).ok())
                .map(|k| Self::meta(&k, &this.path_of(&bucket, &k)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Page::of(fetched, size, |m| m.key.to_string()))
        })
        .await
    }

    async fn copy(&self, source: &ObjectRef, to: &BlobKey) -> Result<ObjectMeta, PortError> {
        if let Some(version) = &source.version_id {
            return Err(PortError::Invalid(format!(
                "{source}: the embedded store keeps no versions, so it has no version {version}"
            )));
        }
        let (this, bucket, from, to) = (
            self.clone(),
            source.bucket.clone(),
            source.key.clone(),
            to.clone(),
        );
        blocking(move || {
            let src = this.path_of(&bucket, &from);
            if !src.is_file() {
                return Err(PortError::NotFound(format!(
                    "object {from} in bucket {bucket}"
                )));
            }
            this.link_sync(&bucket, &to, &src)
        })
        .await
    }

    async fn presign_put(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        _expires: Duration,
        _by: &tollgate_domain::UserId,
    ) -> Result<PresignedPut, PortError> {
        // The embedded store has no server: the "URL" is the file a client writes to (and keeps
        // no metadata: `tollgate up`'s upload URLs record who uploaded as they store the bytes).
        let path = self.path_of(bucket, key);
        let abs = std::path::absolute(&path).unwrap_or(path);
        Ok(PresignedPut {
            url: format!("file://{}", abs.display()),
            headers: Default::default(),
        })
    }
}
