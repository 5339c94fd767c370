//! The table's plumbing: items, bodies, reads that page through everything, and transactions
//! that say which of their conditions failed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use aws_smithy_types::Blob;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollgate_domain::PortError;

use crate::error::{build_error, port_error};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Bodies above this are stored gzip-compressed (`body_gz`): a run with many trials grows past
/// what a JSON string should take of DynamoDB's 400 KB item limit.
const COMPRESS_ABOVE: usize = 64 * 1024;
/// What an item may hold, with room for its keys and other attributes.
const MAX_BODY: usize = 380 * 1024;
/// Keys per BatchGetItem request.
const BATCH_GET: usize = 100;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// An item with its key.
pub(crate) fn item(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// Adds the JSON of `value` to `item` as its body.
pub(crate) fn with_body<T: Serialize>(mut item: Item, value: &T) -> Result<Item, PortError> {
    let json =
        serde_json::to_vec(value).map_err(|e| PortError::other("encoding a catalog record", e))?;
    if json.len() <= COMPRESS_ABOVE {
        let text = String::from_utf8(json).expect("serde_json writes UTF-8");
        item.insert("body".into(), s(text));
        return Ok(item);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &json)
        .and_then(|()| gz.try_finish())
        .map_err(|e| PortError::other("compressing a catalog record", e))?;
    let packed = gz
        .finish()
        .map_err(|e| PortError::other("compressing a catalog record", e))?;
    if packed.len() > MAX_BODY {
        return Err(PortError::Invalid(format!(
            "a catalog record of {} KB ({} KB compressed) is over DynamoDB's item limit",
            json.len() / 1024,
            packed.len() / 1024
        )));
    }
    item.insert("body_gz".into(), AttributeValue::B(Blob::new(packed)));
    Ok(item)
}

/// The record an item's body holds.
pub(crate) fn body<T: DeserializeOwned>(item: &Item) -> Result<T, PortError> {
    let decoded = match (item.get("body"), item.get("body_gz")) {
        (Some(AttributeValue::S(text)), _) => serde_json::from_str(text),
        (_, Some(AttributeValue::B(blob))) => {
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(blob.as_ref()), &mut json)
                .map_err(|e| PortError::other("decompressing a catalog record", e))?;
            serde_json::from_slice(&json)
        }
        _ => {
            return Err(PortError::Invalid(format!(
                "catalog item {} / {} has no body",
                text(item, "pk").unwrap_or_default(),
                text(item, "sk").unwrap_or_default()
            )));
        }
    };
    decoded.map_err(|e| PortError::other("decoding a catalog record", e))
}

pub(crate) fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

pub(crate) fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// A key that sorts in write order: nanoseconds since the epoch, a per-process random part and
/// a counter, so two writers never make the same one and one writer's keys only grow.
pub(crate) fn order_key() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let process = *PROCESS.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    });
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:020}#{process:016x}#{count:08x}")
}

/// The table, and the reads every access pattern is made of. Every read is strongly consistent
/// and pages until the end.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub client: Client,
    pub name: String,
}

impl Table {
    pub async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .set_key(Some(item(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(format!("reading {pk} / {sk} from table {}", self.name), e))?;
        Ok(out.item)
    }

    /// The items of partition `pk` whose sort key starts with `prefix`, in sort-key order
    /// (reversed when `newest_first`), only those passing `filter` on the `subject` if given.
    pub async fn query(
        &self,
        pk: &str,
        prefix: &str,
        newest_first: bool,
        subject_prefix: Option<&str>,
    ) -> Result<Vec<Item>, PortError> {
        let mut values = HashMap::from([(":pk".to_owned(), s(pk))]);
        let condition = if prefix.is_empty() {
            "pk = :pk"
        } else {
            values.insert(":prefix".into(), s(prefix));
            "pk = :pk AND begins_with(sk, :prefix)"
        };
        let mut request = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression(condition)
            .consistent_read(true)
            .scan_index_forward(!newest_first);
        if let Some(subject) = subject_prefix {
            values.insert(":subject".into(), s(subject));
            request = request.filter_expression("begins_with(subject, :subject)");
        }
        let mut pages = request
            .set_expression_attribute_values(Some(values))
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = pages.next().await {
            items.push(
                item.map_err(|e| port_error(format!("querying {pk} in table {}", self.name), e))?,
            );
        }
        Ok(items)
    }

    /// Up to `want` items of partition `pk` whose sort key starts with `prefix` (every item when
    /// empty), after the sort key `after` (exclusive), in sort-key order (reversed when
    /// `newest_first`), only those whose `subject` starts with `subject_prefix` if given. Reads
    /// DynamoDB's pages until it has them or the partition ends, never past.
    #[allow(clippy::too_many_arguments)]
    pub async fn query_page(
        &self,
        pk: &str,
        prefix: &str,
        newest_first: bool,
        subject_prefix: Option<&str>,
        after: Option<&str>,
        want: usize,
    ) -> Result<Vec<Item>, PortError> {
        let mut values = HashMap::from([(":pk".to_owned(), s(pk))]);
        let condition = if prefix.is_empty() {
            "pk = :pk"
        } else {
            values.insert(":prefix".into(), s(prefix));
            "pk = :pk AND begins_with(sk, :prefix)"
        };
        if let Some(subject) = subject_prefix {
            values.insert(":subject".into(), s(subject));
        }
        let mut start = after.map(|sk| item(pk, sk));
        let mut items = Vec::new();
        while items.len() < want {
            let mut request = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression(condition)
                .consistent_read(true)
                .scan_index_forward(!newest_first)
                .limit(i32::try_from(want - items.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .set_expression_attribute_values(Some(values.clone()));
            if subject_prefix.is_some() {
                request = request.filter_expression("begins_with(subject, :subject)");
            }
            let out = request
                .send()
                .await
                .map_err(|e| port_error(format!("querying {pk} in table {}", self.name), e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        items.truncate(want);
        Ok(items)
    }

    /// The items at `keys` (pk, sk), in the order asked; missing ones are left out.
    pub async fn get_many(&self, keys: &[(String, String)]) -> Result<Vec<Item>, PortError> {
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        for chunk in keys.chunks(BATCH_GET) {
            let mut pending: Vec<Item> = chunk.iter().map(|(p, s)| item(p, s)).collect();
            let mut rounds = 0u32;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| build_error("BatchGetItem", e))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.name, request)
                    .send()
                    .await
                    .map_err(|e| port_error(format!("reading items of table {}", self.name), e))?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.name)
                    .unwrap_or_default()
                {
                    let key = (
                        text(&item, "pk").unwrap_or_default().to_owned(),
                        text(&item, "sk").unwrap_or_default().to_owned(),
                    );
                    found.insert(key, item);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.name))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if !pending.is_empty() {
                    // Throttled: back off before asking for the rest.
                    rounds += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20 << rounds.min(6))).await;
                }
            }
        }
        Ok(keys.iter().filter_map(|k| found.remove(k)).collect())
    }
}

/// Which conditions of a transaction failed, by the labels they were added with.
#[derive(Debug)]
pub(crate) struct Refused(pub Vec<&'static str>);

impl Refused {
    pub fn into_conflict(self, what: &str) -> PortError {
        PortError::Conflict(format!("{what}: {}", self.0.join("; ")))
    }
}

/// One TransactWriteItems: all of it lands, or none of it.
#[derive(Debug, Default)]
pub(crate) struct Transaction {
    items: Vec<TransactWriteItem>,
    labels: Vec<&'static str>,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `item`, if `condition` (with `values`) holds; `label` says what a failure means.
    pub fn put(
        &mut self,
        table: &Table,
        item: Item,
        condition: Option<&str>,
        values: Item,
        label: &'static str,
    ) -> Result<&mut Self, PortError> {
        let put = Put::builder()
            .table_name(&table.name)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(|e| build_error("a transaction's put", e))?;
        self.items
            .push(TransactWriteItem::builder().put(put).build());
        self.labels.push(label);
        Ok(self)
    }

    /// Puts `item` only where no item has its key.
    pub fn create(
        &mut self,
        table: &Table,
        item: Item,
        label: &'static str,
    ) -> Result<&mut Self, PortError> {
        self.put(
            table,
            item,
            Some("attribute_not_exists(pk)"),
            Item::new(),
            label,
        )
    }

    pub fn update(
        &mut self,
        table: &Table,
        key: Item,
        expression: &str,
        condition: Option<&str>,
        values: Item,
        label: &'static str,
    ) -> Result<&mut Self, PortError> {
        let update = Update::builder()
            .table_name(&table.name)
            .set_key(Some(key))
            .update_expression(expression)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build()
            .map_err(|e| build_error("a transaction's update", e))?;
        self.items
            .push(TransactWriteItem::builder().update(update).build());
        self.labels.push(label);
        Ok(self)
    }

    /// Writes it all. `Ok(Err(refused))` names the conditions that failed (a concurrent
    /// transaction on the same items counts as one: the caller re-reads and decides again).
    pub async fn commit(self, table: &Table, what: &str) -> Result<Result<(), Refused>, PortError> {
        if self.items.is_empty() {
            return Ok(Ok(()));
        }
        let result = table
            .client
            .transact_write_items()
            .set_transact_items(Some(self.items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Ok(())),
            Err(e) => e,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
            err.as_service_error()
        {
            let reasons = cancelled.cancellation_reasons();
            let refused: Vec<&'static str> = reasons
                .iter()
                .zip(&self.labels)
                .filter_map(|(r, label)| match r.code() {
                    Some("ConditionalCheckFailed") => Some(*label),
                    Some("TransactionConflict") => Some("a concurrent write to the same items"),
                    _ => None,
                })
                .collect();
            let transient = reasons.iter().any(|r| {
                matches!(
                    r.code(),
                    Some("ThrottlingError" | "ProvisionedThroughputExceeded")
                )
            });
            if !refused.is_empty() && !transient {
                return Ok(Err(Refused(refused)));
            }
        }
        Err(port_error(what.to_owned(), err))
    }
}
