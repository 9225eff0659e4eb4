//! Arbitrary bytes into the Raft decoders (messages, entries, hard state, snapshots): errors are fine,
//! panics and oversized allocations are not; whatever decodes must re-encode to the same bytes.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rnats_core::raft::codec;

fuzz_target!(|data: &[u8]| {
    let b = Bytes::copy_from_slice(data);
    if let Ok(m) = codec::decode_message(&b) {
        let again = codec::encode_message(&m);
        assert_eq!(codec::decode_message(&again).as_ref(), Ok(&m));
    }
    if let Ok(e) = codec::decode_entry(&b) {
        assert_eq!(
            codec::decode_entry(&codec::encode_entry(&e)).as_ref(),
            Ok(&e)
        );
    }
    if let Ok(hs) = codec::decode_hard_state(&b) {
        assert_eq!(
            codec::decode_hard_state(&codec::encode_hard_state(&hs)),
            Ok(hs)
        );
    }
    if let Ok(s) = codec::decode_snapshot(&b) {
        assert_eq!(
            codec::decode_snapshot(&codec::encode_snapshot(&s)).as_ref(),
            Ok(&s)
        );
    }
});
