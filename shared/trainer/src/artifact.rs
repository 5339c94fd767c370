//! Where a training job left its model and its test predictions. The local backend copies the
//! job's `model/` and `output/data/` folders as they are (`s3://<bucket>/<prefix><job>/model/`);
//! SageMaker packs them, into `<prefix><job>/output/model.tar.gz` and `output/output.tar.gz`.
//! The model tests and the monitor read both the same way.

use std::io::Read;
use std::path::Path;

use tollgate_domain::ports::{BlobStore, LocalObject, ObjectMeta};
use tollgate_domain::{BlobKey, BucketName, PortError};

/// A job's artifact location, as a run records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub bucket: BucketName,
    /// `<prefix><job>`: the job's folder.
    pub job: String,
    /// SageMaker's tarballs rather than the trainer's folders.
    pub packed: bool,
}

fn key(raw: &str) -> Result<BlobKey, PortError> {
    BlobKey::parse(raw).map_err(|e| PortError::Invalid(e.to_string()))
}

impl Artifact {
    /// `s3://bucket/<job>/model/` (the local backend) or `s3://bucket/<job>/output/model.tar.gz`
    /// (SageMaker).
    pub fn parse(uri: &str) -> Result<Self, PortError> {
        let bad = || PortError::Invalid(format!("{uri:?} is not an s3:// model artifact"));
        let (bucket, path) = uri
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(bad)?;
        let bucket = BucketName::parse(bucket).map_err(|_| bad())?;
        if let Some(job) = path.strip_suffix("/output/model.tar.gz") {
            return Ok(Self {
                bucket,
                job: job.to_owned(),
                packed: true,
            });
        }
        let job = path.trim_end_matches('/');
        let job = job.strip_suffix("/model").unwrap_or(job);
        if job.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            bucket,
            job: job.to_owned(),
            packed: false,
        })
    }

    /// The model file (`model.json`) as a local file; `NotFound` when the job wrote none (a
    /// model from another framework).
    pub async fn model_file(
        &self,
        blobs: &dyn BlobStore,
        work_dir: &Path,
    ) -> Result<LocalObject, PortError> {
        if self.packed {
            let tarball = self.fetch(blobs, "output/model.tar.gz").await?;
            extract(&tarball, "model.json", work_dir)
        } else {
            self.fetch(blobs, "model/model.json").await
        }
    }

    /// The job's predictions of the test split (`predictions/test.csv` of its output data).
    pub async fn test_predictions(
        &self,
        blobs: &dyn BlobStore,
        work_dir: &Path,
    ) -> Result<LocalObject, PortError> {
        if self.packed {
            let tarball = self.fetch(blobs, "output/output.tar.gz").await?;
            extract(&tarball, "predictions/test.csv", work_dir)
        } else {
            self.fetch(blobs, "output/data/predictions/test.csv").await
        }
    }

    async fn fetch(&self, blobs: &dyn BlobStore, file: &str) -> Result<LocalObject, PortError> {
        blobs
            .fetch(&self.bucket, &key(&format!("{}/{file}", self.job))?)
            .await
    }
}

/// The most a member extracted from a model archive may hold: a model file or a predictions
/// file past it is refused (`Invalid`), not written until the disk is full.
pub const MAX_MEMBER_BYTES: u64 = 2 << 30;

/// The member `name` of a gzipped tarball (SageMaker writes `./model.json` or `model.json`), as
/// a temporary file, streamed; `NotFound` when it has none, `Invalid` past [`MAX_MEMBER_BYTES`].
pub fn extract(
    tarball: &LocalObject,
    name: &str,
    work_dir: &Path,
) -> Result<LocalObject, PortError> {
    extract_at_most(tarball, name, work_dir, MAX_MEMBER_BYTES)
}

fn extract_at_most(
    tarball: &LocalObject,
    name: &str,
    work_dir: &Path,
    max: u64,
) -> Result<LocalObject, PortError> {
    let what = format!("{} in {}", name, tarball.path.display());
    let file = std::fs::File::open(&tarball.path)
        .map_err(|e| PortError::other(format!("opening {}", tarball.path.display()), e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive
        .entries()
        .map_err(|e| PortError::Invalid(format!("reading {what}: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| PortError::Invalid(format!("reading {what}: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| PortError::Invalid(format!("reading {what}: {e}")))?
            .into_owned();
        let path = path.strip_prefix(".").unwrap_or(&path);
        if path != Path::new(name) {
            continue;
        }
        let mut out = tempfile::Builder::new()
            .prefix("tollgate-artifact-")
            .suffix(&format!("-{}", name.rsplit('/').next().unwrap_or(name)))
            .tempfile_in(work_dir)
            .map_err(|e| PortError::other(format!("extracting {what}"), e))?;
        let too_big = || {
            PortError::Invalid(format!(
                "{what} is larger than {max} bytes, the limit of a member Tollgate extracts"
            ))
        };
        // The header's size can lie; the copy is held to the limit whatever it says.
        if entry.header().size().is_ok_and(|s| s > max) {
            return Err(too_big());
        }
        let size = std::io::copy(&mut (&mut entry).take(max + 1), &mut out)
            .map_err(|e| PortError::Invalid(format!("reading {what}: {e}")))?;
        if size > max {
            return Err(too_big());
        }
        let path = out.into_temp_path();
        let meta = ObjectMeta {
            key: tarball.meta.key.clone(),
            size,
            etag: tarball.meta.etag.clone(),
            version_id: tarball.meta.version_id.clone(),
            uploaded_by: None,
            last_modified: tarball.meta.last_modified,
        };
        return Ok(LocalObject::temporary(
            path.to_path_buf(),
            meta,
            Box::new(path),
        ));
    }
    Err(PortError::NotFound(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_name_the_job_folder() {
        let local = Artifact::parse("s3://data/runs/r/r-t001/model/").unwrap();
        assert_eq!((local.job.as_str(), local.packed), ("runs/r/r-t001", false));
        let packed = Artifact::parse("s3://data/runs/r/r-t001/output/model.tar.gz").unwrap();
        assert_eq!(
            (packed.job.as_str(), packed.packed),
            ("runs/r/r-t001", true)
        );
        assert!(Artifact::parse("file:///x").is_err());
        assert!(Artifact::parse("s3://data/").is_err());
    }

    #[test]
    fn a_member_is_extracted_with_or_without_a_leading_dot() {
        let dir = tempfile::tempdir().unwrap();
        for prefix in ["", "./"] {
            let tarball = dir.path().join(format!("m{}.tar.gz", prefix.len()));
            let gz = flate2::write::GzEncoder::new(
                std::fs::File::create(&tarball).unwrap(),
                flate2::Compression::default(),
            );
            let mut builder = tar::Builder::new(gz);
            let body = br#"{"format_version": 1}"#;
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, format!("{prefix}model.json"), &body[..])
                .unwrap();
            builder.into_inner().unwrap().finish().unwrap();
            let local = LocalObject::in_place(
                tarball.clone(),
                ObjectMeta {
                    key: BlobKey::parse("runs/r/j/output/model.tar.gz").unwrap(),
                    size: 0,
                    etag: None,
                    version_id: None,
                    uploaded_by: None,
                    last_modified: None,
                },
            );
            let model = extract(&local, "model.json", dir.path()).unwrap();
            assert_eq!(std::fs::read(&model.path).unwrap(), body);
            assert!(matches!(
                extract(&local, "predictions/test.csv", dir.path()),
                Err(PortError::NotFound(_))
            ));
            // Past the limit, a member is refused, not written out.
            let refused = extract_at_most(&local, "model.json", dir.path(), 8);
            assert!(
                matches!(&refused, Err(PortError::Invalid(m)) if m.contains("larger than 8 bytes")),
                "{refused:?}"
            );
        }
    }
}
