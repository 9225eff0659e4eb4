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

    pub fn replicas_not_supported() -> ApiError {
        ApiError::new(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }
}

impl ApiError {
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
}
