//! Newtypes that are valid by construction: a `DatasetName` or a `BlobKey` that exists has passed
//! its `parse`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::DomainError;

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        /// As the string it holds, quoted: a name in an error message or a file reads `"wine"`,
        /// never the type's internals.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`, not `write_str`: tables align names with `{:<24}`.
                f.pad(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
        /// In the API's OpenAPI document: a string, with the rules `parse` holds it to.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::openapi::string(concat!(
                    "A ",
                    stringify!($name),
                    ", checked as `",
                    stringify!($name),
                    "::parse` checks it."
                ))
            }
        }
        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

/// A dataset's name: 1 to 64 of `a-z 0-9 _ -`, starting with a letter or digit. It appears in
/// object keys, table keys and URLs, so it is kept to characters that need no escaping anywhere.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatasetName(String);
string_newtype!(DatasetName);

impl DatasetName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let what = "dataset name";
        if raw.is_empty() || raw.len() > 64 {
            return Err(DomainError::invalid(
                what,
                raw,
                "must be 1 to 64 characters",
            ));
        }
        if !raw.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(DomainError::invalid(
                what,
                raw,
                "must start with a lowercase letter or a digit",
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
        {
            return Err(DomainError::invalid(
                what,
                raw,
                format!("{bad:?} is not allowed; use lowercase letters, digits, '_' and '-'"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// Who did something, in one canonical form wherever it was learnt: trimmed and lower-cased, so
/// `Bob@Example.com` and `bob@example.com` are one person (e-mail addresses are matched without
/// case by every provider Tollgate meets, and a Cognito `sub` is lower-case already). A person
/// is their verified e-mail or their `sub` (the API function's `TOLLGATE_ACTOR_CLAIM`); an AWS
/// principal is its session name ([`UserId::from_principal`]), which IAM Identity Center sets
/// to the person's user name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);
string_newtype!(UserId);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > 256 {
            return Err(DomainError::invalid(
                "user",
                raw,
                "must be 1 to 256 characters",
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "user",
                raw,
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    /// The person behind an AWS principal as S3 names the uploader of an object
    /// (`userIdentity.principalId`): an assumed role's session name (`AWS:AROA…:alice@x.com`,
    /// IAM Identity Center's sessions are named after the user), else the principal itself (an
    /// IAM user's `AWS:AIDA…`, which names no person in another form). Anything else (the local
    /// CLI's login name) is a name already.
    pub fn from_principal(principal: &str) -> Result<Self, DomainError> {
        let principal = principal.trim();
        match principal
            .strip_prefix("AWS:")
            .map(|rest| rest.split_once(':'))
        {
            Some(Some((_role, session))) if !session.is_empty() => Self::parse(session),
            _ => Self::parse(principal),
        }
    }
}

/// A bucket name as S3 accepts it: 3 to 63 of `a-z 0-9 . -`, starting and ending with a letter
/// or digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketName(String);
string_newtype!(BucketName);

impl BucketName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let what = "bucket name";
        if raw.len() < 3 || raw.len() > 63 {
            return Err(DomainError::invalid(
                what,
                raw,
                "must be 3 to 63 characters",
            ));
        }
        let edge_ok =
            |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !edge_ok(raw.chars().next()) || !edge_ok(raw.chars().last()) {
            return Err(DomainError::invalid(
                what,
                raw,
                "must start and end with a lowercase letter or a digit",
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
        {
            return Err(DomainError::invalid(
                what,
                raw,
                format!("{bad:?} is not allowed"),
            ));
        }
        if raw.contains("..") {
            return Err(DomainError::invalid(what, raw, "must not contain '..'"));
        }
        Ok(Self(raw.to_owned()))
    }
}

/// An object key that is safe on every store: relative, `/`-separated, no empty, `.` or `..`
/// segment, no backslash, no control character, at most 1024 bytes (the S3 limit). A key that
/// passes cannot name anything outside its bucket's folder in the embedded store.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);
string_newtype!(BlobKey);

impl BlobKey {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let what = "object key";
        if raw.is_empty() || raw.len() > 1024 {
            return Err(DomainError::invalid(what, raw, "must be 1 to 1024 bytes"));
        }
        if raw.starts_with('/') {
            return Err(DomainError::invalid(
                what,
                raw,
                "must be relative (no leading '/')",
            ));
        }
        if raw.contains('\\') {
            return Err(DomainError::invalid(what, raw, "must not contain '\\'"));
        }
        if raw.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                what,
                raw,
                "must not contain control characters",
            ));
        }
        for segment in raw.split('/') {
            match segment {
                "" => return Err(DomainError::invalid(what, raw, "has an empty path segment")),
                "." | ".." => {
                    return Err(DomainError::invalid(
                        what,
                        raw,
                        format!("must not contain a {segment:?} segment"),
                    ));
                }
                _ => {}
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key with `suffix` appended as further segments (`suffix` is parsed too).
    pub fn join(&self, suffix: &str) -> Result<Self, DomainError> {
        Self::parse(&format!("{}/{}", self.0, suffix))
    }

    /// The last segment: the file name.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

/// The SHA-256 of an object's bytes, as 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(String);
string_newtype!(ContentHash);

impl ContentHash {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let hex = raw.strip_prefix("sha256:").unwrap_or(raw);
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(
                "content hash",
                raw,
                "must be 64 hexadecimal digits (SHA-256)",
            ));
        }
        Ok(Self(hex.to_ascii_lowercase()))
    }

    /// The first 12 digits, for people.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

/// A file name made safe to be the last segment of an object key: anything but letters, digits,
/// `.`, `_` and `-` becomes `_`, and leading dots are dropped, so `../../x.csv` becomes `x.csv`
/// rather than a way out of the bucket.
pub fn sanitize_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    let mut name: String = trimmed.chars().take(200).collect();
    if name.is_empty() || name.chars().all(|c| c == '_') {
        name = format!("upload{}", if name.is_empty() { "" } else { "_" });
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_in_a_message_reads_as_its_text_not_the_type() {
        let wine = DatasetName::parse("wine").unwrap();
        assert_eq!(format!("no dataset {wine:?}"), "no dataset \"wine\"");
        assert_eq!(format!("{wine}"), "wine");
        let user = UserId::parse("ana").unwrap();
        assert_eq!(format!("{user:?}"), "\"ana\"");
    }

    #[test]
    fn a_person_is_one_user_however_their_name_is_cased() {
        assert_eq!(
            UserId::parse(" Bob@Example.com ").unwrap(),
            UserId::parse("bob@example.com").unwrap()
        );
        let stored: UserId = serde_json::from_str("\"BOB@example.COM\"").unwrap();
        assert_eq!(stored.as_str(), "bob@example.com");
    }

    #[test]
    fn an_aws_principal_is_the_person_its_session_names() {
        let person = |p: &str| UserId::from_principal(p).unwrap().to_string();
        // IAM Identity Center: the role's session is named after the signed-in user.
        assert_eq!(
            person("AWS:AROA3XFRBF535EXAMPLE:Alice@Example.com"),
            "alice@example.com"
        );
        // An IAM user has no session: the principal is all there is.
        assert_eq!(
            person("AWS:AIDAJDPLRKLG7UEXAMPLE"),
            "aws:aidajdplrklg7uexample"
        );
        // The local CLI names its user directly.
        assert_eq!(person("ana"), "ana");
        assert!(UserId::from_principal("AWS:AROA3XFRBF535EXAMPLE:").is_ok());
    }

    #[test]
    fn dataset_names_refuse_what_would_need_escaping() {
        assert!(DatasetName::parse("credit-scores_2024").is_ok());
        for bad in [
            "",
            "Credit",
            "a/b",
            "../x",
            "-lead",
            "sp ace",
            &"x".repeat(65),
        ] {
            assert!(
                DatasetName::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn keys_cannot_climb_out_of_their_bucket() {
        for bad in [
            "../etc/passwd",
            "a/../../b",
            "/abs",
            "a//b",
            "a/./b",
            "a\\b",
            "a\0b",
            "",
        ] {
            assert!(BlobKey::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(
            BlobKey::parse("incoming/x/a..b.csv").unwrap().file_name(),
            "a..b.csv"
        );
    }

    #[test]
    fn file_names_are_sanitized_to_one_safe_segment() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("..\\..\\evil.csv"), "evil.csv");
        assert_eq!(sanitize_file_name("my data (1).csv"), "my_data__1_.csv");
        assert_eq!(sanitize_file_name(".."), "upload");
        assert!(BlobKey::parse(&format!("incoming/x/{}", sanitize_file_name("a/../.."))).is_ok());
    }

    #[test]
    fn content_hashes_are_normalized_to_lowercase_hex() {
        let h = ContentHash::parse(&"AB".repeat(32)).unwrap();
        assert_eq!(h.as_str(), "ab".repeat(32));
        assert!(ContentHash::parse("abc").is_err());
    }

    #[test]
    fn names_honour_width_and_alignment() {
        assert_eq!(
            format!("[{:<6}]", DatasetName::parse("ab").unwrap()),
            "[ab    ]"
        );
    }

    #[test]
    fn names_deserialize_through_parse() {
        let bad: Result<DatasetName, _> = serde_json::from_str("\"Bad Name\"");
        assert!(bad.is_err());
    }
}
