//! `tollgate audit`.

use tollgate_domain::AuditEvent;
use tollgate_domain::ports::Catalog;

use crate::Outcome;
use crate::embedded::Embedded;

pub async fn run(env: &Embedded, subject: Option<&str>, json: bool) -> anyhow::Result<Outcome> {
    render(&env.catalog.audit(subject).await?, json)
}

/// `tollgate audit`, from the events oldest first (the data dir's, or the API's).
pub fn render(events: &[AuditEvent], json: bool) -> anyhow::Result<Outcome> {
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(Outcome::Done);
    }
    for e in events {
        let change = what_happened(e);
        println!(
            "{}  {:<14} {:<26} {}{change}{}",
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.action,
            e.subject,
            e.comment
                .as_ref()
                .map(|c| format!("  “{c}”"))
                .unwrap_or_default()
        );
    }
    if events.is_empty() {
        println!("no audit events yet");
    }
    Ok(Outcome::Done)
}

/// What the event did, after its subject: a transition, the count an approval reached, or why
/// a request was refused.
fn what_happened(e: &AuditEvent) -> String {
    match (&e.from, &e.to) {
        (Some(f), Some(t)) => return format!(" {f} → {t}"),
        (None, Some(t)) => return format!(" → {t}"),
        (Some(f), None) => return format!(" from {f}"),
        (None, None) => {}
    }
    if e.action.ends_with(".refused") {
        return format!(
            " refused: {}",
            e.details["reason"].as_str().unwrap_or("no reason given")
        );
    }
    match (
        e.action.as_str(),
        e.details["approvals"].as_u64(),
        e.details["required"].as_u64(),
    ) {
        ("model.approved", Some(n), Some(required)) => {
            format!(" approval {n} of {required} recorded")
        }
        _ => String::new(),
    }
}
