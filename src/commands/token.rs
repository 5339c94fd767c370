//! `tollgate token`: a token this data dir's `tollgate up` accepts, signed with the key kept in
//! the data dir (created on first need, mode 0600).

use std::path::Path;

use tollgate_api::{APPROVERS, EDITORS, LocalTokens};

use crate::embedded::Embedded;
use crate::{Outcome, UsageError};

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

/// The data dir's token key ([`LocalTokens::of_dir`]).
pub fn signing_key(data_dir: &Path) -> anyhow::Result<LocalTokens> {
    LocalTokens::of_dir(data_dir).map_err(anyhow::Error::msg)
}
