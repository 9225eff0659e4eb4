//! `/subsz`: the sublist figures of every account, and optionally the subscriptions.

use rnats_core::node::SubInfo;
use rnats_core::sublist::SublistStats;
use serde::Serialize;

use super::connz::{SubJson, DEFAULT_LIMIT};
use super::format::{go_float, rfc3339};
use super::query::Query;
use super::{pretty, Monitor};

/// Sublist figures under the reference's names, floats written as Go writes them.
#[derive(Serialize)]
pub struct StatsJson {
    num_subscriptions: u64,
    num_cache: u64,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    #[serde(serialize_with = "go_float")]
    cache_hit_rate: f64,
    max_fanout: u64,
    #[serde(serialize_with = "go_float")]
    avg_fanout: f64,
}

impl From<&SublistStats> for StatsJson {
    fn from(s: &SublistStats) -> StatsJson {
        StatsJson {
            num_subscriptions: s.num_subscriptions,
            num_cache: s.num_cache,
            num_inserts: s.num_inserts,
            num_removes: s.num_removes,
            num_matches: s.num_matches,
            cache_hit_rate: s.cache_hit_rate,
            max_fanout: s.max_fanout,
            avg_fanout: s.avg_fanout,
        }
    }
}

#[derive(Serialize)]
struct Subsz<'a> {
    server_id: &'a str,
    now: String,
    #[serde(flatten)]
    stats: StatsJson,
    total: usize,
    offset: usize,
    limit: usize,
    subscriptions_list: Vec<SubJson<'a>>,
}

pub fn render(m: &Monitor, q: &Query) -> Result<Vec<u8>, String> {
    let subs = q.flag("subs") || q.get("subs") == Some("detail");
    let offset = q.int("offset", 0)?.max(0) as usize;
    let limit = match q.int("limit", DEFAULT_LIMIT)? {
        l if l <= 0 => DEFAULT_LIMIT as usize,
        l => l as usize,
    };
    let test = q.get("test").filter(|t| !t.is_empty());
    if let Some(t) = test {
        if !rnats_core::subject::is_valid_literal_subject(t.as_bytes()) {
            return Err(format!(
                "invalid test subject, must be valid publish subject: {t}"
            ));
        }
    }
    let (server_id, clock, stats, list) = m.inspect(|node, clock| {
        let list: Vec<SubInfo> = if subs {
            node.subscriptions()
        } else {
            Vec::new()
        };
        let server_id = node.info().server_id.clone();
        (server_id, clock, node.sublist_stats(), list)
    });
    let matching: Vec<&SubInfo> = list
        .iter()
        .filter(|s| {
            test.is_none_or(|t| rnats_core::subject::matches(s.subject.as_bytes(), t.as_bytes()))
        })
        .collect();
    let total = matching.len();
    let page: Vec<SubJson<'_>> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| SubJson::new(s, true))
        .collect();
    // As the reference: without any subscription to list, the figures alone.
    if page.is_empty() {
        return Ok(pretty(&StatsJson::from(&stats)));
    }
    Ok(pretty(&Subsz {
        server_id: &server_id,
        now: rfc3339(clock.wall),
        stats: StatsJson::from(&stats),
        total,
        offset,
        limit,
        subscriptions_list: page,
    }))
}
