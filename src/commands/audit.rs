//! `tollgate audit`.

use tollgate_domain::ports::Catalog;

use crate::Outcome;
use crate::embedded::Embedded;

pub async fn run(env: &Embedded, subject: Option<&str>, json: bool) -> anyhow::Result<Outcome> {
    let events = env.catalog.audit(subject).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
        return Ok(Outcome::Done);
    }
    for e in &events {
        let change = match (&e.from, &e.to) {
            (Some(f), Some(t)) => format!(" {f} → {t}"),
            (None, Some(t)) => format!(" → {t}"),
            (Some(f), None) => format!(" from {f}"),
            (None, None) => String::new(),
        };
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
