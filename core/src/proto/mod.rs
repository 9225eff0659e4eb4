//! The client protocol on the wire: an incremental parser for what clients send and an
//! encoder for what the server sends back.

mod encode;
mod parser;

pub use encode::{encode_err, encode_hmsg_header, encode_msg_header, OutBuf};
pub use parser::{ClientOp, ParseError, Parser};
