//! The consumer half of the `$JS.API`: create (ephemeral, durable, named), info, list,
//! names, delete, and pull requests (`MSG.NEXT`), answered as nats-server 2.9.10 answers.

use bytes::Bytes;

use super::advisory::Action;
use super::api::{answer, body_or_default, error_answer, JetStream, PageRequest};
use super::api_error::ApiError;
use super::config::Retention;
use super::consumer::config::{ConsumerConfig, CreateKind, DeliverPolicy};
use super::consumer::pull::PullRequest;
use super::consumer::Consumer;
use super::time::{parse_rfc3339, rfc3339};
use crate::subject::overlaps;

/// Consumers listed per page by `CONSUMER.NAMES` and `CONSUMER.LIST`.
const NAMES_PAGE: usize = 1024;
const LIST_PAGE: usize = 256;

type Answer = Result<String, (&'static str, ApiError)>;

impl JetStream {
    /// Answers `$JS.API.CONSUMER.<op>`; `None` for no request this server knows.
    pub(super) fn consumer_request(&mut self, op: &str, body: &[u8], now: u64) -> Option<String> {
        let tokens: Vec<&str> = op.split('.').collect();
        let result = match tokens.as_slice() {
            ["CREATE", stream] => self.create_consumer(stream, CreateKind::Ephemeral, body, now),
            ["CREATE", stream, name] => {
                self.create_consumer(stream, CreateKind::Named(name, None), body, now)
            }
            ["CREATE", stream, name, ..] => {
                let filter = tokens[3..].join(".");
                self.create_consumer(stream, CreateKind::Named(name, Some(&filter)), body, now)
            }
            ["DURABLE", "CREATE", stream, name] => {
                self.create_consumer(stream, CreateKind::Durable(name), body, now)
            }
            ["INFO", stream, name] => self.consumer_info(stream, name, now),
            ["PAUSE", stream, name] => self.pause_consumer(stream, name, body, now),
            ["DELETE", stream, name] => self.delete_consumer(stream, name, now),
            ["NAMES", stream] => self.consumer_names(stream, body),
            ["LIST", stream] => self.consumer_list(stream, body, now),
            ["LEADER", "STEPDOWN", _, _] => Err((
                "consumer_leader_stepdown_response",
                ApiError::clustering_required(),
            )),
            _ => return None,
        };
        Some(result.unwrap_or_else(|(kind, e)| {
            self.api_errors += 1;
            error_answer(kind, &e)
        }))
    }

    /// A pull request for `stream`'s consumer `name`, answered on `reply`. Requests for
    /// consumers that do not exist go unanswered, as in the reference.
    pub(super) fn pull(&mut self, stream: &str, name: &str, reply: Bytes, body: &[u8], now: u64) {
        let Some(consumer) = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(name))
        else {
            return;
        };
        if let Some(req) = PullRequest::parse(reply, body, now) {
            consumer.request(req, now, &mut self.outbox);
        }
    }

    fn create_consumer(
        &mut self,
        stream_name: &str,
        kind: CreateKind<'_>,
        body: &[u8],
        now: u64,
    ) -> Answer {
        const KIND: &str = "consumer_create_response";
        let mut config =
            ConsumerConfig::parse_create(body, stream_name, kind).map_err(|e| (KIND, e))?;
        let stream = self.stream(stream_name).map_err(|e| (KIND, e))?;
        config
            .check_and_default(stream.config())
            .map_err(|e| (KIND, e))?;
        let name = match config.chosen_name() {
            "" => self.made_up_name(),
            name => name.to_string(),
        };
        let max_consumers = self.limits.max_consumers;
        let consumers_now: i64 = self
            .streams
            .values()
            .map(|s| s.consumers.len() as i64)
            .sum();
        let stream = self.stream_mut(stream_name).map_err(|e| (KIND, e))?;
        let change = match stream.consumers.get_mut(&name) {
            Some(existing) if existing.config() == &config => None,
            Some(existing) => {
                if let Some(why) = existing.config().update_refusal(&config) {
                    return Err((KIND, ApiError::consumer_create(why)));
                }
                existing.update(config, now);
                Some(Action::Modify)
            }
            None => {
                if max_consumers >= 0 && consumers_now >= max_consumers {
                    return Err((KIND, ApiError::maximum_consumers()));
                }
                check_fits(stream.config(), &stream.consumers, &config).map_err(|e| (KIND, e))?;
                let consumer =
                    Consumer::new(stream_name, name.clone(), config, stream.store(), now);
                stream.consumers.insert(name.clone(), consumer);
                Some(Action::Create)
            }
        };
        if let Some(change) = change {
            self.consumer_written(stream_name, &name);
            if change == Action::Create {
                self.consumer_action(stream_name, &name, Action::Create, now);
            }
        }
        let stream = self.stream(stream_name).map_err(|e| (KIND, e))?;
        let info = stream.consumers[&name].info(stream.store(), now);
        Ok(answer(
            KIND,
            serde_json::to_value(info).expect("info serializes"),
        ))
    }

    /// An 8-character name no consumer of any stream has.
    fn made_up_name(&mut self) -> String {
        loop {
            let name = self.rng.alphanumeric(8);
            if !self
                .streams
                .values()
                .any(|s| s.consumers.contains_key(&name))
            {
                return name;
            }
        }
    }

    fn consumer_info(&mut self, stream: &str, name: &str, now: u64) -> Answer {
        const KIND: &str = "consumer_info_response";
        let stream = self.stream(stream).map_err(|e| (KIND, e))?;
        let consumer = stream
            .consumers
            .get(name)
            .ok_or((KIND, ApiError::consumer_not_found()))?;
        Ok(answer(
            KIND,
            serde_json::to_value(consumer.info(stream.store(), now)).expect("info serializes"),
        ))
    }

    /// Pauses a consumer until `pause_until` (or resumes it, without one); it keeps its
    /// state and pull requests meanwhile, and delivers nothing.
    fn pause_consumer(&mut self, stream_name: &str, name: &str, body: &[u8], now: u64) -> Answer {
        const KIND: &str = "consumer_pause_response";
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct PauseRequest {
            pause_until: Option<String>,
        }
        let req: PauseRequest = body_or_default(body).map_err(|e| (KIND, e))?;
        let until = match req.pause_until.as_deref() {
            None | Some("0001-01-01T00:00:00Z") => None,
            Some(t) => Some(parse_rfc3339(t).ok_or((KIND, ApiError::invalid_json()))?),
        };
        let stream = self.stream_mut(stream_name).map_err(|e| (KIND, e))?;
        let consumer = stream
            .consumers
            .get_mut(name)
            .ok_or((KIND, ApiError::consumer_not_found()))?;
        let mut config = consumer.config().clone();
        config.pause_until = until.filter(|&u| u > now).map(rfc3339);
        consumer.update(config, now);
        self.consumer_written(stream_name, name);
        let remaining = until.filter(|&u| u > now).map(|u| u - now);
        let mut fields = serde_json::json!({
            "paused": remaining.is_some(),
            "pause_until": rfc3339(until.unwrap_or(0)),
        });
        if let Some(r) = remaining {
            fields["pause_remaining"] = serde_json::json!(r);
        }
        Ok(answer(KIND, fields))
    }

    fn delete_consumer(&mut self, stream_name: &str, name: &str, now: u64) -> Answer {
        const KIND: &str = "consumer_delete_response";
        let stream = self
            .streams
            .get_mut(stream_name)
            .ok_or((KIND, ApiError::stream_not_found()))?;
        let mut consumer = stream
            .consumers
            .remove(name)
            .ok_or((KIND, ApiError::consumer_not_found()))?;
        consumer.close(&mut self.outbox);
        self.consumer_removed(stream_name, name);
        self.consumer_action(stream_name, name, Action::Delete, now);
        Ok(answer(KIND, serde_json::json!({ "success": true })))
    }

    fn consumer_names(&mut self, stream: &str, body: &[u8]) -> Answer {
        const KIND: &str = "consumer_names_response";
        let page: PageRequest = body_or_default(body).map_err(|e| (KIND, e))?;
        let stream = self.stream(stream).map_err(|e| (KIND, e))?;
        // An offset past the end answers as the end, as in the reference.
        let offset = page.offset.min(stream.consumers.len());
        let names: Vec<&String> = stream
            .consumers
            .keys()
            .skip(offset)
            .take(NAMES_PAGE)
            .collect();
        Ok(answer(
            KIND,
            serde_json::json!({
                "total": stream.consumers.len(),
                "offset": offset,
                "limit": NAMES_PAGE,
                "consumers": names,
            }),
        ))
    }

    fn consumer_list(&mut self, stream: &str, body: &[u8], now: u64) -> Answer {
        const KIND: &str = "consumer_list_response";
        let page: PageRequest = body_or_default(body).map_err(|e| (KIND, e))?;
        let stream = self.stream(stream).map_err(|e| (KIND, e))?;
        let total = stream.consumers.len();
        let offset = page.offset.min(total);
        let infos: Vec<serde_json::Value> = stream
            .consumers
            .values()
            .skip(offset)
            .take(LIST_PAGE)
            .map(|c| serde_json::to_value(c.info(stream.store(), now)).expect("info serializes"))
            .collect();
        Ok(answer(
            KIND,
            serde_json::json!({
                "total": total,
                "offset": offset,
                "limit": LIST_PAGE,
                "consumers": infos,
            }),
        ))
    }
}

/// Whether a new consumer fits its stream: the stream's consumer limit, and for a work
/// queue, one consumer per subject that reads from the start.
fn check_fits(
    stream: &super::config::StreamConfig,
    consumers: &std::collections::BTreeMap<String, Consumer>,
    config: &ConsumerConfig,
) -> Result<(), ApiError> {
    if stream.max_consumers > 0 && consumers.len() as i64 >= stream.max_consumers {
        return Err(ApiError::maximum_consumers());
    }
    if stream.retention != Retention::WorkQueue {
        return Ok(());
    }
    if config.deliver_policy != DeliverPolicy::All {
        return Err(ApiError::consumer_config(
            10101,
            "consumer must be deliver all on workqueue stream",
        ));
    }
    let unfiltered = |c: &ConsumerConfig| c.filters() == [">"];
    for other in consumers.values() {
        if unfiltered(other.config()) || unfiltered(config) {
            return Err(ApiError::workqueue_multiple_unfiltered());
        }
        let clash = other.config().filters().iter().any(|a| {
            config
                .filters()
                .iter()
                .any(|b| overlaps(a.as_bytes(), b.as_bytes()))
        });
        if clash {
            return Err(ApiError::workqueue_not_unique());
        }
    }
    Ok(())
}
