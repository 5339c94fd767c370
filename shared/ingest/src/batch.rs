//! Batch folders: which files a marker makes one version of, and when a file came too late.
//!
//! A folder `incoming/<dataset>/<batch>/` becomes one version when its marker arrives:
//! `_SUCCESS` takes every data file in the folder written no later than the marker (names
//! starting with `_` or `.` are bookkeeping, not data); `_manifest.json` takes exactly the files
//! it lists, each of the size it says. A file that is not taken is late: its own upload,
//! rejected, never a change to the version.

use serde::Deserialize;
use tollgate_domain::ports::ObjectMeta;
use tollgate_domain::{BlobKey, UploadedFile};

use crate::event::Arrival;

/// `_manifest.json`: the batch's files, by name below the folder, and their sizes in bytes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    pub files: Vec<ManifestEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManifestEntry {
    pub name: String,
    pub size: u64,
}

impl Manifest {
    pub fn parse(bytes: &[u8], marker: &BlobKey) -> Result<Self, String> {
        let manifest: Self = serde_json::from_slice(bytes).map_err(|e| {
            format!(
                "{marker} is not a manifest ({{\"files\": [{{\"name\": \"part-0.parquet\", \
                 \"size\": 1234}}]}}): {e}"
            )
        })?;
        if manifest.files.is_empty() {
            return Err(format!("{marker} lists no files"));
        }
        Ok(manifest)
    }
}

/// A file's name below its batch folder.
pub(crate) fn name_in(folder: &BlobKey, key: &BlobKey) -> Option<String> {
    key.as_str()
        .strip_prefix(folder.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        .map(str::to_owned)
}

/// Whether a listed object is one of the folder's data files (not a marker, not bookkeeping).
fn is_data(folder: &BlobKey, meta: &ObjectMeta) -> bool {
    matches!(Arrival::of(&meta.key), Some(Arrival::Part { folder: f, .. }) if f == *folder)
}

/// Written after the marker: not part of the batch it closes. Where a store does not say when
/// either was written, nothing is after.
fn after(meta: &ObjectMeta, marker: &ObjectMeta) -> bool {
    matches!((meta.last_modified, marker.last_modified), (Some(m), Some(k)) if m > k)
}

/// The files a marker takes from the folder's `listing`, in name order; or why it cannot take
/// them, naming the file.
pub(crate) fn taken(
    folder: &BlobKey,
    marker: &ObjectMeta,
    manifest: Option<&Manifest>,
    listing: &[ObjectMeta],
) -> Result<Vec<ObjectMeta>, String> {
    let mut files: Vec<ObjectMeta> = match manifest {
        Some(manifest) => {
            let mut files = Vec::new();
            for entry in &manifest.files {
                let key = folder
                    .join(&entry.name)
                    .map_err(|e| format!("the manifest names {:?}: {e}", entry.name))?;
                let meta = listing.iter().find(|m| m.key == key).ok_or_else(|| {
                    format!(
                        "the manifest lists {}, which is not in {folder}/",
                        entry.name
                    )
                })?;
                if meta.size != entry.size {
                    return Err(format!(
                        "{} is {} bytes; the manifest says {} (was it still being written?)",
                        entry.name, meta.size, entry.size
                    ));
                }
                files.push(meta.clone());
            }
            files
        }
        None => listing
            .iter()
            .filter(|m| is_data(folder, m) && !after(m, marker))
            .cloned()
            .collect(),
    };
    if files.is_empty() {
        return Err(format!("{folder}/ holds no data files before its marker"));
    }
    files.sort_by(|a, b| a.key.as_str().as_bytes().cmp(b.key.as_str().as_bytes()));
    files.dedup_by(|a, b| a.key == b.key);
    Ok(files)
}

/// Whether a file the marker would judge by `marker` (and `manifest`) is part of its batch.
pub(crate) fn takes(
    file: &ObjectMeta,
    name: &str,
    marker: &ObjectMeta,
    manifest: Option<&Manifest>,
) -> bool {
    match manifest {
        Some(m) => m
            .files
            .iter()
            .any(|e| e.name == name && e.size == file.size),
        None => !after(file, marker),
    }
}

/// Whether the files a batch became (its report's list) include `name`.
pub(crate) fn listed(files: &[UploadedFile], name: &str) -> bool {
    files.iter().any(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, size: u64, at: i64) -> ObjectMeta {
        ObjectMeta {
            key: BlobKey::parse(key).unwrap(),
            size,
            etag: None,
            version_id: None,
            uploaded_by: None,
            last_modified: Some(jiff::Timestamp::from_second(at).unwrap()),
        }
    }

    fn folder() -> BlobKey {
        BlobKey::parse("incoming/sales/b1").unwrap()
    }

    #[test]
    fn success_takes_the_data_files_written_before_it_in_name_order() {
        let listing = [
            meta("incoming/sales/b1/part-2.csv", 5, 10),
            meta("incoming/sales/b1/part-1.csv", 5, 10),
            meta("incoming/sales/b1/_SUCCESS", 0, 20),
            meta("incoming/sales/b1/.part-1.csv.crc", 1, 10),
            meta("incoming/sales/b1/part-3.csv", 5, 30),
            meta("incoming/sales/b10/part-1.csv", 5, 10),
        ];
        let marker = &listing[2];
        let taken = taken(&folder(), marker, None, &listing).unwrap();
        let keys: Vec<&str> = taken.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "incoming/sales/b1/part-1.csv",
                "incoming/sales/b1/part-2.csv"
            ]
        );
        assert!(!takes(&listing[4], "part-3.csv", marker, None));
    }

    #[test]
    fn a_manifest_names_the_file_it_lists_that_is_missing_or_of_another_size() {
        let listing = [meta("incoming/sales/b1/part-1.csv", 5, 10)];
        let marker = meta("incoming/sales/b1/_manifest.json", 80, 20);
        let manifest = Manifest::parse(
            br#"{"files": [{"name": "part-1.csv", "size": 5}, {"name": "part-2.csv", "size": 5}]}"#,
            &marker.key,
        )
        .unwrap();
        let err = taken(&folder(), &marker, Some(&manifest), &listing).unwrap_err();
        assert!(
            err.contains("part-2.csv") && err.contains("not in"),
            "{err}"
        );

        let manifest = Manifest::parse(
            br#"{"files": [{"name": "part-1.csv", "size": 6}]}"#,
            &marker.key,
        )
        .unwrap();
        let err = taken(&folder(), &marker, Some(&manifest), &listing).unwrap_err();
        assert!(err.contains("part-1.csv is 5 bytes"), "{err}");

        let err = Manifest::parse(b"{\"parts\": []}", &marker.key).unwrap_err();
        assert!(err.contains("_manifest.json is not a manifest"), "{err}");
    }

    #[test]
    fn a_folder_without_data_is_refused() {
        let marker = meta("incoming/sales/b1/_SUCCESS", 0, 20);
        let err = taken(&folder(), &marker, None, std::slice::from_ref(&marker)).unwrap_err();
        assert!(err.contains("holds no data files"), "{err}");
    }
}
