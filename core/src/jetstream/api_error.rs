//! The errors the JetStream API answers with: an HTTP-like `code`, the reference's numeric
//! `err_code` (which clients match on) and its `description` text.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: u16,
    pub err_code: u16,
    pub description: String,
}

impl ApiError {
    fn new(code: u16, err_code: u16, description: impl Into<String>) -> ApiError {
        ApiError {
            code,
            err_code,
            description: description.into(),
        }
    }

    /// The request body is not the JSON the request takes.
    pub fn invalid_json() -> ApiError {
        ApiError::new(400, 10025, "invalid JSON")
    }

    /// A stream configuration the server cannot take; `why` says what is wrong.
    pub fn invalid_stream_config(why: impl Into<String>) -> ApiError {
        ApiError::new(500, 10052, why)
    }

    pub fn stream_name_mismatch() -> ApiError {
        ApiError::new(400, 10056, "stream name in subject does not match request")
    }

    pub fn stream_name_in_use() -> ApiError {
        ApiError::new(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }

    pub fn stream_not_found() -> ApiError {
        ApiError::new(404, 10059, "stream not found")
    }

    pub fn subjects_overlap() -> ApiError {
        ApiError::new(400, 10065, "subjects overlap with an existing stream")
    }

    /// An update the stream cannot take; `why` says what is wrong.
    pub fn stream_update(why: impl Into<String>) -> ApiError {
        ApiError::new(500, 10052, why)
    }

    pub fn replicas_not_supported() -> ApiError {
        ApiError::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }
}

impl ApiError {
    pub fn mirror_with_subjects() -> ApiError {
        ApiError::new(400, 10034, "stream mirrors can not contain subjects")
    }

    pub fn msg_ttl_disabled() -> ApiError {
        ApiError::new(400, 10166, "per-message TTL is disabled")
    }

    pub fn msg_ttl_invalid() -> ApiError {
        ApiError::new(400, 10165, "invalid per-message TTL")
    }

    /// A source's `external.api` that would send its requests to this account's own API.
    pub fn stream_external_api_overlap(prefix: &str, subject: &str) -> ApiError {
        ApiError::new(
            400,
            10021,
            format!("stream external api prefix {prefix} must not overlap with {subject}"),
        )
    }

    /// A source's `external.deliver` under which its messages would be captured again.
    pub fn stream_external_del_prefix_overlaps(prefix: &str, subject: &str) -> ApiError {
        ApiError::new(
            400,
            10022,
            format!(
                "stream external delivery prefix {prefix} overlaps with stream subject {subject}"
            ),
        )
    }

    pub fn stream_invalid_external_delivery_subj(prefix: &str) -> ApiError {
        ApiError::new(
            400,
            10024,
            format!("stream external delivery prefix {prefix} must not contain wildcards"),
        )
    }

    pub fn mirror_not_updatable() -> ApiError {
        ApiError::new(400, 10055, "stream mirror configuration can not be updated")
    }

    pub fn mirror_with_sources() -> ApiError {
        ApiError::new(
            400,
            10031,
            "stream mirrors can not also contain other sources",
        )
    }

    pub fn stream_sealed() -> ApiError {
        ApiError::new(400, 10109, "invalid operation on sealed stream")
    }

    pub fn stream_not_match() -> ApiError {
        ApiError::new(400, 10060, "expected stream does not match")
    }

    pub fn wrong_last_sequence(last: u64) -> ApiError {
        ApiError::new(400, 10071, format!("wrong last sequence: {last}"))
    }

    pub fn wrong_last_msg_id(last: &str) -> ApiError {
        ApiError::new(400, 10070, format!("wrong last msg ID: {last}"))
    }

    pub fn rollup_failed(why: impl Into<String>) -> ApiError {
        ApiError::new(500, 10111, why)
    }

    pub fn message_too_large() -> ApiError {
        ApiError::new(400, 10054, "message size exceeds maximum allowed")
    }

    pub fn store_failed(why: impl Into<String>) -> ApiError {
        ApiError::new(503, 10077, why)
    }

    pub fn no_message_found() -> ApiError {
        ApiError::new(404, 10037, "no message found")
    }

    /// A request whose fields contradict each other (`seq` with `keep`, no way to find a
    /// message).
    pub fn bad_request() -> ApiError {
        ApiError::new(400, 10003, "bad request")
    }

    /// `MSG.DELETE` of a sequence the stream does not hold.
    pub fn sequence_not_found(seq: u64) -> ApiError {
        ApiError::new(400, 10043, format!("sequence {seq} not found"))
    }

    /// `MSG.DELETE` the store failed; `why` is the store's error.
    pub fn msg_delete_failed(why: impl Into<String>) -> ApiError {
        ApiError::new(500, 10057, why)
    }
}

/// The consumer half of the API's errors.
impl ApiError {
    /// A consumer request naming another stream in its body than in its subject.
    pub fn stream_mismatch() -> ApiError {
        ApiError::stream_name_mismatch()
    }

    /// A consumer configuration the server cannot take; `why` says what is wrong.
    pub fn consumer_create(why: impl Into<String>) -> ApiError {
        ApiError::new(500, 10012, why)
    }

    pub fn consumer_not_found() -> ApiError {
        ApiError::new(404, 10014, "consumer not found")
    }

    pub fn consumer_durable_name_mismatch() -> ApiError {
        ApiError::new(
            400,
            10017,
            "consumer name in subject does not match durable name in request",
        )
    }

    pub fn consumer_durable_name_not_set() -> ApiError {
        ApiError::new(
            400,
            10018,
            "consumer expected to be durable but a durable name was not set",
        )
    }

    pub fn consumer_ephemeral_with_durable() -> ApiError {
        ApiError::new(
            400,
            10020,
            "consumer expected to be ephemeral but a durable name was set in request",
        )
    }

    pub fn maximum_consumers() -> ApiError {
        ApiError::new(400, 10026, "maximum consumers limit reached")
    }

    pub fn consumer_deliver_cycle() -> ApiError {
        ApiError::new(400, 10081, "consumer deliver subject forms a cycle")
    }

    pub fn consumer_filter_not_subset() -> ApiError {
        ApiError::new(
            400,
            10093,
            "consumer filter subject is not a valid subset of the interest subjects",
        )
    }

    /// A consumer configuration error the reference gives its own code (all 400); `why`
    /// is the reference's text.
    pub fn consumer_config(err_code: u16, why: impl Into<String>) -> ApiError {
        ApiError::new(400, err_code, why)
    }

    pub fn workqueue_needs_explicit_ack() -> ApiError {
        ApiError::new(400, 10098, "workqueue stream requires explicit ack")
    }

    pub fn workqueue_multiple_unfiltered() -> ApiError {
        ApiError::new(
            400,
            10099,
            "multiple non-filtered consumers not allowed on workqueue stream",
        )
    }

    pub fn workqueue_not_unique() -> ApiError {
        ApiError::new(
            400,
            10100,
            "filtered consumer not unique on workqueue stream",
        )
    }

    pub fn consumer_bad_durable_name() -> ApiError {
        ApiError::new(400, 10103, "durable name can not contain '.', '*', '>'")
    }

    pub fn consumer_exists() -> ApiError {
        ApiError::new(400, 10105, "consumer already exists")
    }

    pub fn consumer_filter_mismatch() -> ApiError {
        ApiError::new(
            400,
            10131,
            "Consumer create request did not match filtered subject from create subject",
        )
    }

    pub fn consumer_name_mismatch() -> ApiError {
        ApiError::new(
            400,
            10132,
            "Consumer Durable and Name have to be equal if both are provided",
        )
    }

    pub fn msg_delete_denied() -> ApiError {
        ApiError::new(500, 10057, "message delete not permitted")
    }

    pub fn purge_denied() -> ApiError {
        ApiError::new(500, 10110, "stream purge not permitted")
    }

    /// Leader and peer operations, which only a clustered JetStream has.
    pub fn clustering_required() -> ApiError {
        ApiError::new(503, 10010, "JetStream clustering support required")
    }

    pub fn snapshot_failed(why: &str) -> ApiError {
        ApiError::new(500, 10064, format!("snapshot failed: {why}"))
    }

    pub fn snapshot_deliver_subject_invalid() -> ApiError {
        ApiError::new(400, 10015, "deliver subject not valid")
    }

    pub fn stream_name_exist_restore_failed() -> ApiError {
        ApiError::new(400, 10130, "stream name already in use, cannot restore")
    }

    pub fn restore_failed(why: &str) -> ApiError {
        ApiError::new(500, 10062, format!("restore failed: {why}"))
    }

    pub fn not_enabled_for_account() -> ApiError {
        ApiError::new(503, 10039, "JetStream not enabled for account")
    }

    pub fn maximum_streams() -> ApiError {
        ApiError::new(400, 10027, "maximum number of streams reached")
    }

    pub fn insufficient_storage() -> ApiError {
        ApiError::new(500, 10047, "insufficient storage resources available")
    }

    pub fn insufficient_memory() -> ApiError {
        ApiError::new(500, 10028, "insufficient memory resources available")
    }
}
