//! The client protocol on the wire: an incremental parser for what clients send and an
//! encoder for what the server sends back.

pub(crate) mod encode;
mod msg_head;
mod op;
mod parser;

pub use encode::{encode_err, encode_hmsg_header, encode_msg_header, Body, OutBuf};
pub use msg_head::MsgHead;
pub use op::{ClientOp, ClientOpRef, Data, Op};
pub use parser::{ParseError, Parser};
