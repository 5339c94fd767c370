//! The ports' conformance suites, on S3 and DynamoDB: the same suites the embedded adapters pass.

use bytes::Bytes;
use tollgate_domain::ports::BlobStore;
use tollgate_domain::{BlobKey, ObjectRef};

use tollgate_aws_tests::standin::Stack;

#[tokio::test]
async fn s3_passes_the_blob_store_conformance_suite() {
    let stack = Stack::new().await;
    // Parts of 5 MiB from 5 MiB on: the suite's 6 MiB file goes up in two parts.
    let store = stack
        .blobs()
        .with_multipart(5 * 1024 * 1024, 5 * 1024 * 1024);
    tollgate_domain::conformance::blob_store(&store, &stack.bucket_name()).await;
}

#[tokio::test]
async fn dynamodb_passes_the_catalog_conformance_suite() {
    let stack = Stack::new().await;
    tollgate_domain::conformance::catalog(&stack.catalog()).await;
}

#[tokio::test]
async fn objects_are_encrypted_at_rest_and_large_files_go_up_in_parts() {
    let stack = Stack::new().await;
    let store = stack
        .blobs()
        .with_multipart(5 * 1024 * 1024, 5 * 1024 * 1024);
    let bucket = stack.bucket_name();
    let file = stack.work_dir.join("big.bin");
    std::fs::write(&file, vec![7u8; 11 * 1024 * 1024]).unwrap();
    let key = BlobKey::parse("datasets/big/v1/data.parquet").unwrap();
    store.put_file(&bucket, &key, &file).await.unwrap();
    let head = stack
        .s3()
        .head_object()
        .bucket(&stack.bucket)
        .key(key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(11 * 1024 * 1024));
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256"),
        "every object is encrypted at rest"
    );
    // A multipart object's ETag is `<md5 of the parts' md5s>-<parts>`.
    assert!(
        head.e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .ends_with("-3"),
        "11 MiB in 5 MiB parts is three parts: {:?}",
        head.e_tag()
    );
    let small = BlobKey::parse("reports/r.json").unwrap();
    store
        .put(&bucket, &small, Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let head = stack
        .s3()
        .head_object()
        .bucket(&stack.bucket)
        .key(small.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption().map(|s| s.as_str()),
        Some("AES256")
    );
}

#[tokio::test]
async fn an_upload_is_read_at_the_version_its_event_names() {
    let stack = Stack::new().await;
    let store = stack.blobs();
    let bucket = stack.bucket_name();
    let key = BlobKey::parse("incoming/wine/batch.csv").unwrap();
    let first = store
        .put(&bucket, &key, Bytes::from_static(b"a\n1\n"))
        .await
        .unwrap();
    store
        .put(&bucket, &key, Bytes::from_static(b"a\n2\n"))
        .await
        .unwrap();
    assert!(first.version_id.is_some(), "the data bucket is versioned");
    let late = ObjectRef {
        version_id: first.version_id.clone(),
        ..ObjectRef::new(bucket.clone(), key.clone())
    };
    let local = store.fetch_object(&late).await.unwrap();
    assert_eq!(
        std::fs::read(&local.path).unwrap(),
        b"a\n1\n",
        "a late event reads the bytes it announced, not the newer ones"
    );
    assert_eq!(
        store.get(&bucket, &key).await.unwrap(),
        Bytes::from_static(b"a\n2\n")
    );
}

#[tokio::test]
async fn a_presigned_url_takes_an_upload_without_credentials() {
    let stack = Stack::new().await;
    let store = stack.blobs();
    let bucket = stack.bucket_name();
    let key = BlobKey::parse("incoming/wine/presigned.csv").unwrap();
    let bob = tollgate_domain::UserId::parse("Bob@Example.com").unwrap();
    let put = store
        .presign_put(&bucket, &key, std::time::Duration::from_secs(300), &bob)
        .await
        .unwrap();
    let url = put.url;
    assert!(url.contains("X-Amz-Signature"), "{url}");
    assert_eq!(
        put.headers
            .get("x-amz-meta-tollgate-uploaded-by")
            .map(String::as_str),
        Some("bob@example.com"),
        "the uploader is a signed header: {:?}",
        put.headers
    );
    // A client with no credentials at all: a plain HTTP PUT with the signed headers (typed:
    // moto reads a form-encoded body as a form, and stores nothing).
    let python = std::env::var("TOLLGATE_STANDIN_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, json, urllib.request\n\
               h = json.loads(sys.argv[2]); h['Content-Type'] = 'text/csv'\n\
               r = urllib.request.Request(sys.argv[1], data=b'a,b\\n1,2\\n', method='PUT', \
               headers=h)\n\
               print(urllib.request.urlopen(r).status)";
    let headers = serde_json::to_string(&put.headers).unwrap();
    let status = std::process::Command::new(python)
        .args(["-c", script, &url, &headers])
        .output()
        .expect("python runs");
    assert_eq!(
        String::from_utf8_lossy(&status.stdout).trim(),
        "200",
        "{url}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(
        store.get(&bucket, &key).await.unwrap(),
        Bytes::from_static(b"a,b\n1,2\n")
    );
    let stored = store.fetch(&bucket, &key).await.unwrap();
    assert_eq!(
        stored.meta.uploaded_by,
        Some(tollgate_domain::UserId::parse("bob@example.com").unwrap()),
        "the object names who the URL was for"
    );
}
