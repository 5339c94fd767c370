//! From an S3 event notification to the uploads it announces.

use aws_lambda_events::s3::S3Event;
use tollgate_domain::{BlobKey, BucketName, DatasetName, ObjectRef, UserId};

use crate::IngestError;

/// The prefix uploads arrive under: `incoming/<dataset>/<file>`, or a batch of many files
/// under `incoming/<dataset>/<batch>/`.
pub const INCOMING: &str = "incoming";

/// The marker that says a batch folder is complete, as Spark and Hadoop write it.
pub const SUCCESS_MARKER: &str = "_SUCCESS";
/// The marker that lists a batch folder's files and their sizes (`{"files": [{"name", "size"}]}`).
pub const MANIFEST_MARKER: &str = "_manifest.json";

/// Where an uploaded object sits, and so what it asks of the gate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Arrival {
    /// A file of its own, `incoming/<dataset>/<file>`: a version by itself.
    File,
    /// A file of a batch folder, `incoming/<dataset>/<batch>/<file>`: part of the version the
    /// folder's marker makes. `name` is its path below the folder.
    Part { folder: BlobKey, name: String },
    /// A batch folder's marker: the folder is complete, its files become one version.
    Marker { folder: BlobKey, manifest: bool },
}

impl Arrival {
    /// What a key under `incoming/<dataset>/` is. `None` for a batch's other bookkeeping
    /// (names starting with `_` or `.`, as Spark's `_committed_*` and `.crc` files), which is
    /// not data.
    pub(crate) fn of(key: &BlobKey) -> Option<Self> {
        let segments: Vec<&str> = key.segments().collect();
        if segments.len() < 4 {
            return Some(Self::File);
        }
        let folder = BlobKey::parse(&segments[..3].join("/")).expect("a prefix of a valid key");
        let name = segments[3..].join("/");
        let file = key.file_name();
        if segments.len() == 4 && (file == SUCCESS_MARKER || file == MANIFEST_MARKER) {
            return Some(Self::Marker {
                folder,
                manifest: file == MANIFEST_MARKER,
            });
        }
        if segments[3..]
            .iter()
            .any(|s| s.starts_with('_') || s.starts_with('.'))
        {
            return None;
        }
        Some(Self::Part { folder, name })
    }
}

/// One uploaded object, as an ingest request.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UploadRef {
    pub object: ObjectRef,
    pub dataset: DatasetName,
    pub file_name: String,
    /// The person behind the principal that stored the object ([`UserId::from_principal`]).
    pub uploaded_by: UserId,
    /// That principal as S3 names it (`AWS:AROA…:session`), when it does.
    pub principal: Option<String>,
    pub arrival: Arrival,
}

impl UploadRef {
    /// The idempotency key: the same object version always gives the same key; a batch's
    /// marker gives its folder's (`<bucket>/<folder>/`), since a folder becomes one version once.
    pub fn upload_key(&self) -> String {
        match &self.arrival {
            Arrival::Marker { folder, .. } => format!("{}/{folder}/", self.object.bucket),
            _ => self.object_key(),
        }
    }

    /// The idempotency key of the object itself, whatever it is.
    pub fn object_key(&self) -> String {
        let version = self
            .object
            .version_id
            .as_deref()
            .or(self.object.etag.as_deref())
            .unwrap_or("-");
        format!("{}/{}#{version}", self.object.bucket, self.object.key)
    }
}

/// S3 puts keys in events URL-encoded, with `+` for spaces.
fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The uploads in an S3 event: `ObjectCreated:*` records under `incoming/<dataset>/`. Records of
/// other kinds are skipped; a record under `incoming/` that cannot be an upload is an error.
pub fn uploads_in(event: &S3Event) -> Result<Vec<UploadRef>, IngestError> {
    let mut uploads = Vec::new();
    for record in &event.records {
        let name = record.event_name.as_deref().unwrap_or_default();
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let bucket = record
            .s3
            .bucket
            .name
            .as_deref()
            .ok_or_else(|| IngestError::BadEvent("an S3 record has no bucket name".into()))?;
        let bucket = BucketName::parse(bucket).map_err(|e| IngestError::BadEvent(e.to_string()))?;
        let raw_key = record
            .s3
            .object
            .key
            .as_deref()
            .ok_or_else(|| IngestError::BadEvent("an S3 record has no object key".into()))?;
        let key = decode_key(raw_key);
        if !key.starts_with(&format!("{INCOMING}/")) {
            continue;
        }
        let key = BlobKey::parse(&key).map_err(|e| {
            IngestError::BadEvent(format!("the uploaded object's key is refused: {e}"))
        })?;
        let segments: Vec<&str> = key.segments().collect();
        let Some(arrival) = Arrival::of(&key) else {
            continue;
        };
        if segments.len() < 3 {
            return Err(IngestError::BadEvent(format!(
                "upload {key} is not under {INCOMING}/<dataset>/<file>"
            )));
        }
        let dataset = DatasetName::parse(segments[1]).map_err(|e| {
            IngestError::BadEvent(format!(
                "upload {key}: the folder does not name a dataset: {e}"
            ))
        })?;
        let principal = record.principal_id.principal_id.clone();
        let uploaded_by = principal
            .as_deref()
            .and_then(|p| UserId::from_principal(p).ok())
            .unwrap_or_else(|| UserId::parse("unknown").expect("a valid user"));
        let object = ObjectRef {
            bucket,
            key: key.clone(),
            version_id: record
                .s3
                .object
                .version_id
                .clone()
                .filter(|v| !v.is_empty() && v != "null"),
            etag: record.s3.object.e_tag.clone().filter(|e| !e.is_empty()),
        };
        uploads.push(UploadRef {
            file_name: key.file_name().to_owned(),
            object,
            dataset,
            uploaded_by,
            principal,
            arrival,
        });
    }
    Ok(uploads)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str) -> S3Event {
        serde_json::from_value(serde_json::json!({
            "Records": [{
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventTime": "2026-11-26T10:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROA3XFRBF535EXAMPLE:Alice@Example.com"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "tollgate-ingest",
                    "bucket": {"name": "tollgate-data", "arn": "arn:aws:s3:::tollgate-data"},
                    "object": {"key": key, "size": 10, "eTag": "abc", "sequencer": "0A1B"}
                }
            }]
        }))
        .unwrap()
    }

    #[test]
    fn an_upload_event_names_its_dataset_and_file_with_the_key_decoded() {
        let uploads = uploads_in(&event("incoming/credit/my+file%281%29.csv")).unwrap();
        assert_eq!(uploads.len(), 1);
        assert_eq!(uploads[0].dataset.as_str(), "credit");
        assert_eq!(uploads[0].file_name, "my file(1).csv");
        // An IAM Identity Center session is named after its user: that is the uploader.
        assert_eq!(uploads[0].uploaded_by.as_str(), "alice@example.com");
        assert_eq!(
            uploads[0].upload_key(),
            "tollgate-data/incoming/credit/my file(1).csv#abc"
        );
    }

    #[test]
    fn a_key_that_climbs_out_is_refused_and_not_retried() {
        let err = uploads_in(&event("incoming/credit/..%2F..%2Fetc%2Fpasswd")).unwrap_err();
        assert!(!err.is_retryable());
        assert!(err.to_string().contains(".."), "{err}");
    }

    #[test]
    fn objects_outside_incoming_are_skipped() {
        assert!(
            uploads_in(&event("datasets/credit/v1/data.parquet"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_batch_folder_has_parts_and_a_marker_and_bookkeeping_that_is_skipped() {
        let part = &uploads_in(&event("incoming/credit/2026-12-01/part-00001.parquet")).unwrap()[0];
        assert_eq!(
            part.arrival,
            Arrival::Part {
                folder: BlobKey::parse("incoming/credit/2026-12-01").unwrap(),
                name: "part-00001.parquet".to_owned()
            }
        );
        let marker = &uploads_in(&event("incoming/credit/2026-12-01/_SUCCESS")).unwrap()[0];
        assert!(matches!(
            marker.arrival,
            Arrival::Marker {
                manifest: false,
                ..
            }
        ));
        assert_eq!(
            marker.upload_key(),
            "tollgate-data/incoming/credit/2026-12-01/"
        );
        assert_eq!(
            marker.object_key(),
            "tollgate-data/incoming/credit/2026-12-01/_SUCCESS#abc"
        );
        for skipped in [
            "incoming/credit/b/.part-00001.parquet.crc",
            "incoming/credit/b/_committed_123",
            "incoming/credit/b/_temporary/0/part-1.parquet",
        ] {
            assert!(uploads_in(&event(skipped)).unwrap().is_empty(), "{skipped}");
        }
        // A file of its own is still a file.
        let file = &uploads_in(&event("incoming/credit/_SUCCESS")).unwrap()[0];
        assert_eq!(file.arrival, Arrival::File);
    }

    #[test]
    fn a_folder_that_is_not_a_dataset_name_is_refused() {
        let err = uploads_in(&event("incoming/Bad%20Name/x.csv")).unwrap_err();
        assert!(err.to_string().contains("dataset"), "{err}");
    }
}
