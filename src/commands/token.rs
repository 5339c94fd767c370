//! `tollgate token`: a token this data dir's `tollgate up` accepts, signed with the key kept in
//! the data dir (created on first need, mode 0600).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use tollgate_api::{APPROVERS, EDITORS, LocalTokens};

use crate::embedded::Embedded;
use crate::{Outcome, UsageError};

/// The file holding the signing key: who can read it can sign in as anyone.
const KEY_FILE: &str = "api-signing-key";

pub fn run(
    env: &Embedded,
    groups: &[String],
    valid_for: std::time::Duration,
) -> anyhow::Result<Outcome> {
    for g in groups {
        if g != EDITORS && g != APPROVERS {
            return Err(UsageError(format!(
                "there is no group {g:?}: the groups are {EDITORS} and {APPROVERS}"
            ))
            .into());
        }
    }
    let tokens = signing_key(&env.data_dir)?;
    let token = tokens.issue(&env.user, groups, jiff::Timestamp::now(), valid_for);
    println!("{token}");
    eprintln!(
        "A token for {} ({}), valid for {}. Use it as: export TOLLGATE_TOKEN=<token>",
        env.user,
        if groups.is_empty() {
            "read only".to_owned()
        } else {
            groups.join(", ")
        },
        tollgate_domain::pipeline::Period(valid_for)
    );
    Ok(Outcome::Done)
}

/// The data dir's token key: read, or made (32 random bytes) if there is none yet. Two
/// processes making it at once agree: the first link wins and the other reads it.
pub fn signing_key(data_dir: &Path) -> anyhow::Result<LocalTokens> {
    let path = data_dir.join(KEY_FILE);
    if !path.exists() {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
        let tmp = data_dir.join(format!(".{KEY_FILE}.{}", std::process::id()));
        let mut file = private_file(&tmp)?;
        file.write_all(hex::encode(key).as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("storing {}", path.display())),
        }
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the token key {}", path.display()))?;
    let key = hex::decode(text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a token key ({e}): remove it to make a new one",
            path.display()
        )
    })?;
    LocalTokens::new(&key).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[cfg(unix)]
fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}
