//! BlobStore on S3. Every write is encrypted at rest (SSE-S3, or SSE-KMS with a key), large
//! files go up in parts, a conditional create is `If-None-Match: *`, and a stand-in endpoint is
//! addressed path-style. Reads of an upload fetch the exact object version its event named.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;
use tollgate_domain::ports::{
    BlobStore, LocalObject, ObjectMeta, Page, PageRequest, PresignedPut, UPLOADED_BY_METADATA,
};
use tollgate_domain::{BlobKey, BucketName, ObjectRef, PortError, UserId};

use crate::AwsConfig;
use crate::error::{build_error, code, port_error};

/// Files at least this large are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// The size of one part (S3 refuses parts under 5 MiB, but the last).
pub const PART_SIZE: u64 = 16 * 1024 * 1024;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 4;
/// S3 copies at most 5 GiB in one request; larger objects are copied in parts.
const MAX_SINGLE_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// How objects are encrypted at rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3 (AES-256, keys managed by S3).
    #[default]
    S3Managed,
    /// SSE-KMS with this key (id, alias or ARN).
    Kms(String),
}

#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    encryption: Encryption,
    /// Where fetched objects are written (on Lambda, `/tmp`).
    work_dir: PathBuf,
    multipart_threshold: u64,
    part_size: u64,
}

impl S3BlobStore {
    /// A store whose client uses `config`; path-style addressing when it names an endpoint.
    pub fn new(config: &AwsConfig, work_dir: impl Into<PathBuf>) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(&config.sdk)
            .force_path_style(config.endpoint.is_some())
            .build();
        Self {
            client: Client::from_conf(s3),
            encryption: Encryption::default(),
            work_dir: work_dir.into(),
            multipart_threshold: MULTIPART_THRESHOLD,
            part_size: PART_SIZE,
        }
    }

    pub fn with_encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = encryption;
        self
    }

    /// Files of `threshold` bytes or more go up in parts of `part_size` (at least 5 MiB).
    pub fn with_multipart(mut self, threshold: u64, part_size: u64) -> Self {
        self.multipart_threshold = threshold;
        self.part_size = part_size.max(5 * 1024 * 1024);
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn sse(&self) -> (ServerSideEncryption, Option<String>) {
        match &self.encryption {
            Encryption::S3Managed => (ServerSideEncryption::Aes256, None),
            Encryption::Kms(key) => (ServerSideEncryption::AwsKms, Some(key.clone())),
        }
    }

    fn meta(key: &BlobKey, size: u64, etag: Option<&str>, version: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            key: key.clone(),
            size,
            etag: etag.map(|e| e.trim_matches('"').to_owned()),
            version_id: version.filter(|v| *v != "null").map(str::to_owned),
            uploaded_by: None,
            last_modified: None,
        }
    }

    /// S3's `LastModified`, as a timestamp.
    fn modified(at: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<jiff::Timestamp> {
        at.and_then(|t| jiff::Timestamp::new(t.secs(), t.subsec_nanos() as i32).ok())
    }

    /// Whom an object's metadata names as its uploader ([`UPLOADED_BY_METADATA`]).
    fn uploaded_by(metadata: Option<&std::collections::HashMap<String, String>>) -> Option<UserId> {
        metadata?
            .get(UPLOADED_BY_METADATA)
            .and_then(|by| UserId::parse(by).ok())
    }

    async fn put_stream(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        body: ByteStream,
        size: u64,
        if_absent: bool,
    ) -> Result<Option<ObjectMeta>, PortError> {
        let (sse, kms) = self.sse();
        let mut request = self
            .client
            .put_object()
            .bucket(bucket.as_str())
            .key(key.as_str())
            .content_length(size as i64)
            .server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .body(body);
        if if_absent {
            request = request.if_none_match("*");
        }
        match request.send().await {
            Ok(out) => Ok(Some(Self::meta(key, size, out.e_tag(), out.version_id()))),
            Err(e) if if_absent && code(&e) == Some("PreconditionFailed") => Ok(None),
            Err(e) => Err(port_error(format!("putting s3://{bucket}/{key}"), e)),
        }
    }

    /// One multipart upload of `key`: created, its parts sent by `parts` (given the upload id),
    /// completed; aborted if anything fails, so no parts linger (and bill) in the bucket.
    async fn multipart<F, Fut>(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        size: u64,
        what: &str,
        parts: F,
    ) -> Result<ObjectMeta, PortError>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<CompletedPart>, PortError>>,
    {
        let (sse, kms) = self.sse();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(bucket.as_str())
            .key(key.as_str())
            .server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| port_error(what, e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| PortError::Invalid(format!("{what}: S3 returned no upload id")))?
            .to_owned();
        let completed = match parts(upload_id.clone()).await {
            Ok(parts) => self
                .client
                .complete_multipart_upload()
                .bucket(bucket.as_str())
                .key(key.as_str())
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| port_error(what, e)),
            Err(e) => Err(e),
        };
        match completed {
            Ok(out) => Ok(Self::meta(key, size, out.e_tag(), out.version_id())),
            Err(e) => {
                if let Err(abort) = self
                    .client
                    .abort_multipart_upload()
                    .bucket(bucket.as_str())
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .send()
                    .await
                {
                    tracing::warn!(%bucket, %key, "aborting a failed multipart upload: {abort}");
                }
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        path: &Path,
        size: u64,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, PortError> {
        let count = size.div_ceil(self.part_size).max(1);
        futures::stream::iter(0..count)
            .map(|i| async move {
                let offset = i * self.part_size;
                let length = self.part_size.min(size - offset);
                let body = ByteStream::read_from()
                    .path(path)
                    .offset(offset)
                    .length(Length::Exact(length))
                    .build()
                    .await
                    .map_err(|e| {
                        PortError::other(format!("reading part {} of {}", i + 1, path.display()), e)
                    })?;
                let number = (i + 1) as i32;
                let out = self
                    .client
                    .upload_part()
                    .bucket(bucket.as_str())
                    .key(key.as_str())
                    .upload_id(upload_id)
                    .part_number(number)
                    .content_length(length as i64)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| {
                        port_error(format!("uploading part {number} of s3://{bucket}/{key}"), e)
                    })?;
                Ok::<_, PortError>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag().map(str::to_owned))
                        .build(),
                )
            })
            .buffered(PARTS_IN_FLIGHT)
            .try_collect()
            .await
    }

    /// Copies an object over 5 GiB, in ranges.
    async fn copy_multipart(
        &self,
        bucket: &BucketName,
        source: &str,
        to: &BlobKey,
        size: u64,
    ) -> Result<ObjectMeta, PortError> {
        let what = format!("copying {source} to s3://{bucket}/{to}");
        let part = self.part_size.max(MAX_SINGLE_COPY / 10);
        let context = &what;
        self.multipart(bucket, to, size, &what, |upload_id| async move {
            let mut parts = Vec::new();
            let mut offset = 0;
            while offset < size {
                let end = (offset + part).min(size) - 1;
                let number = parts.len() as i32 + 1;
                let out = self
                    .client
                    .upload_part_copy()
                    .bucket(bucket.as_str())
                    .key(to.as_str())
                    .upload_id(&upload_id)
                    .part_number(number)
                    .copy_source(source)
                    .copy_source_range(format!("bytes={offset}-{end}"))
                    .send()
                    .await
                    .map_err(|e| port_error(context, e))?;
                let etag = out.copy_part_result().and_then(|r| r.e_tag());
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(etag.map(str::to_owned))
                        .build(),
                );
                offset = end + 1;
            }
            Ok(parts)
        })
        .await
    }

    /// Downloads an object (a given version, when named) into a temporary file.
    async fn download(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        version_id: Option<&str>,
    ) -> Result<LocalObject, PortError> {
        let what = match version_id {
            Some(v) => format!("fetching s3://{bucket}/{key} (version {v})"),
            None => format!("fetching s3://{bucket}/{key}"),
        };
        let out = self
            .client
            .get_object()
            .bucket(bucket.as_str())
            .key(key.as_str())
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| port_error(&what, e))?;
        let size = out.content_length().unwrap_or_default().max(0) as u64;
        let meta = ObjectMeta {
            uploaded_by: Self::uploaded_by(out.metadata()),
            ..Self::meta(key, size, out.e_tag(), out.version_id())
        };
        std::fs::create_dir_all(&self.work_dir)
            .map_err(|e| PortError::other(format!("creating {}", self.work_dir.display()), e))?;
        // The file keeps the key's extension: readers tell CSV, gzip and Parquet apart by it.
        let tmp = tempfile::Builder::new()
            .prefix("tollgate-s3-")
            .suffix(&format!("-{}", key.file_name()))
            .tempfile_in(&self.work_dir)
            .map_err(|e| PortError::other(format!("{what}: creating a temporary file"), e))?;
        let (file, path) = tmp.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut body = out.body;
        let mut written = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| PortError::unavailable(format!("{what}: reading the body"), e))?
        {
            written += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| PortError::other(format!("{what}: writing {}", path.display()), e))?;
        }
        file.flush()
            .await
            .map_err(|e| PortError::other(format!("{what}: writing {}", path.display()), e))?;
        if written != size {
            return Err(PortError::unavailable(
                what,
                std::io::Error::other(format!("got {written} of {size} bytes")),
            ));
        }
        Ok(LocalObject::temporary(
            path.to_path_buf(),
            meta,
            Box::new(path),
        ))
    }
}

impl S3BlobStore {
    /// An object's size, ETag and version; the version `object.version_id` names, if any.
    async fn head_version(&self, object: &ObjectRef) -> Result<Option<ObjectMeta>, PortError> {
        let (bucket, key) = (&object.bucket, &object.key);
        match self
            .client
            .head_object()
            .bucket(bucket.as_str())
            .key(key.as_str())
            .set_version_id(object.version_id.clone())
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectMeta {
                uploaded_by: Self::uploaded_by(out.metadata()),
                last_modified: Self::modified(out.last_modified()),
                ..Self::meta(
                    key,
                    out.content_length().unwrap_or_default().max(0) as u64,
                    out.e_tag(),
                    out.version_id(),
                )
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(port_error(format!("reading {object}"), e)),
        }
    }
}

/// `bucket/key`, percent-encoded as `x-amz-copy-source` wants it.
fn copy_source(bucket: &BucketName, key: &BlobKey) -> String {
    const KEEP: &[u8] = b"-_.~/";
    let mut out = format!("{bucket}/");
    for b in key.as_str().bytes() {
        if b.is_ascii_alphanumeric() || KEEP.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        body: Bytes,
    ) -> Result<ObjectMeta, PortError> {
        let size = body.len() as u64;
        let meta = self
            .put_stream(bucket, key, ByteStream::from(body), size, false)
            .await?;
        Ok(meta.expect("an unconditional put always writes"))
    }

    async fn put_file(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        path: &Path,
    ) -> Result<ObjectMeta, PortError> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| PortError::other(format!("reading {}", path.display()), e))?
            .len();
        if size >= self.multipart_threshold {
            let what = format!("uploading {} to s3://{bucket}/{key}", path.display());
            return self
                .multipart(bucket, key, size, &what, |upload_id| async move {
                    self.upload_parts(bucket, key, path, size, &upload_id).await
                })
                .await;
        }
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| PortError::other(format!("reading {}", path.display()), e))?;
        let meta = self.put_stream(bucket, key, body, size, false).await?;
        Ok(meta.expect("an unconditional put always writes"))
    }

    async fn create(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        body: Bytes,
    ) -> Result<Option<ObjectMeta>, PortError> {
        let size = body.len() as u64;
        // S3 answers 409 ConditionalRequestConflict while another conditional write of the key
        // is in flight: asked again, it says which one won.
        for attempt in 0..5u32 {
            match self
                .put_stream(bucket, key, ByteStream::from(body.clone()), size, true)
                .await
            {
                Err(PortError::Other { context, .. })
                    if context.contains("ConditionalRequestConflict") =>
                {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                other => return other,
            }
        }
        Err(PortError::Conflict(format!(
            "creating s3://{bucket}/{key}: other writers kept it busy"
        )))
    }

    async fn get(&self, bucket: &BucketName, key: &BlobKey) -> Result<Bytes, PortError> {
        let what = format!("getting s3://{bucket}/{key}");
        let out = self
            .client
            .get_object()
            .bucket(bucket.as_str())
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| port_error(&what, e))?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| PortError::unavailable(format!("{what}: reading the body"), e))?;
        Ok(body.into_bytes())
    }

    async fn fetch(&self, bucket: &BucketName, key: &BlobKey) -> Result<LocalObject, PortError> {
        self.download(bucket, key, None).await
    }

    async fn fetch_object(&self, object: &ObjectRef) -> Result<LocalObject, PortError> {
        self.download(&object.bucket, &object.key, object.version_id.as_deref())
            .await
    }

    async fn head(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
    ) -> Result<Option<ObjectMeta>, PortError> {
        self.head_version(&ObjectRef::new(bucket.clone(), key.clone()))
            .await
    }

    async fn list(&self, bucket: &BucketName, prefix: &str) -> Result<Vec<ObjectMeta>, PortError> {
        let what = format!("listing s3://{bucket}/{prefix}");
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket.as_str())
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error(&what, e))?;
            for object in page.contents() {
                let Some(raw) = object.key() else { continue };
                let key =
                    BlobKey::parse(raw).map_err(|e| PortError::Invalid(format!("{what}: {e}")))?;
                out.push(ObjectMeta {
                    last_modified: Self::modified(object.last_modified()),
                    ..Self::meta(
                        &key,
                        object.size().unwrap_or_default().max(0) as u64,
                        object.e_tag(),
                        None,
                    )
                });
            }
        }
        // S3 lists in UTF-8 byte order, which is `BlobKey`'s; sorted anyway, as the port says.
        out.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        Ok(out)
    }

    async fn list_page(
        &self,
        bucket: &BucketName,
        prefix: &str,
        page: &PageRequest,
    ) -> Result<Page<ObjectMeta>, PortError> {
        let what = format!("listing s3://{bucket}/{prefix}");
        let size = page.size();
        let out = self
            .client
            .list_objects_v2()
            .bucket(bucket.as_str())
            .prefix(prefix)
            .set_start_after(page.cursor.clone())
            .max_keys(i32::try_from(size + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| port_error(&what, e))?;
        let fetched = out
            .contents()
            .iter()
            .filter_map(|object| {
                let key = BlobKey::parse(object.key()?).ok()?;
                let size = object.size().unwrap_or_default().max(0) as u64;
                Some(ObjectMeta {
                    last_modified: Self::modified(object.last_modified()),
                    ..Self::meta(&key, size, object.e_tag(), None)
                })
            })
            .collect();
        Ok(Page::of(fetched, size, |m: &ObjectMeta| m.key.to_string()))
    }

    async fn copy(&self, object: &ObjectRef, to: &BlobKey) -> Result<ObjectMeta, PortError> {
        let (bucket, from) = (&object.bucket, &object.key);
        let mut source = copy_source(bucket, from);
        if let Some(version) = &object.version_id {
            // S3's version ids are URL-ready: they go as they are.
            source.push_str("?versionId=");
            source.push_str(version);
        }
        let Some(meta) = self.head_version(object).await? else {
            return Err(PortError::NotFound(format!(
                "copying {object}: no such object"
            )));
        };
        if meta.size > MAX_SINGLE_COPY {
            return self.copy_multipart(bucket, &source, to, meta.size).await;
        }
        let (sse, kms) = self.sse();
        let out = self
            .client
            .copy_object()
            .bucket(bucket.as_str())
            .key(to.as_str())
            .copy_source(&source)
            .server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| port_error(format!("copying s3://{bucket}/{from} to {to}"), e))?;
        Ok(Self::meta(
            to,
            meta.size,
            out.copy_object_result().and_then(|r| r.e_tag()),
            out.version_id(),
        ))
    }

    async fn presign_put(
        &self,
        bucket: &BucketName,
        key: &BlobKey,
        expires: Duration,
        by: &UserId,
    ) -> Result<PresignedPut, PortError> {
        let what = format!("presigning an upload to s3://{bucket}/{key}");
        let config = PresigningConfig::expires_in(expires).map_err(|e| build_error(&what, e))?;
        let request = self
            .client
            .put_object()
            .bucket(bucket.as_str())
            .key(key.as_str())
            .metadata(UPLOADED_BY_METADATA, by.as_str())
            .presigned(config)
            .await
            .map_err(|e| port_error(&what, e))?;
        // The metadata header is signed: a PUT without it, or with another name, is refused.
        let headers = request
            .headers()
            .filter(|(name, _)| name.starts_with("x-amz-meta-"))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Ok(PresignedPut {
            url: request.uri().to_owned(),
            headers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_source_is_percent_encoded_but_for_slashes() {
        let bucket = BucketName::parse("data").unwrap();
        let key = BlobKey::parse("incoming/wine/my file (1).csv").unwrap();
        assert_eq!(
            copy_source(&bucket, &key),
            "data/incoming/wine/my%20file%20%281%29.csv"
        );
    }
}
