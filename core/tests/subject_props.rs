//! Subject validation and matching against small models written apart from the crate.

use proptest::prelude::*;
use rnats_core::subject;

const WHITESPACE: &[u8] = b" \t\r\n\x0c";

/// Byte strings rich in the characters that matter: separators, wildcards, white space.
fn text() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        6 => Just(b'a'),
        3 => Just(b'b'),
        5 => Just(b'.'),
        3 => Just(b'*'),
        3 => Just(b'>'),
        1 => prop::sample::select(WHITESPACE),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..10)
}

fn split(s: &[u8]) -> Vec<&[u8]> {
    s.split(|&b| b == b'.').collect()
}

fn model_valid(s: &[u8]) -> bool {
    let tokens = split(s);
    !s.is_empty()
        && !s.iter().any(|b| WHITESPACE.contains(b))
        && tokens.iter().all(|t| !t.is_empty())
        && tokens[..tokens.len() - 1].iter().all(|t| *t != b">")
}

fn model_literal(s: &[u8]) -> bool {
    model_valid(s) && split(s).iter().all(|t| *t != b"*" && *t != b">")
}

fn model_queue(q: &[u8]) -> bool {
    !q.is_empty() && !q.iter().any(|b| b" \t\r\n".contains(b))
}

fn model_matches(pattern: &[&[u8]], subject: &[&[u8]]) -> bool {
    match (pattern, subject) {
        ([], []) => true,
        ([last], [_, ..]) if *last == b">" => true,
        ([p, p_rest @ ..], [s, s_rest @ ..]) => {
            (*p == b"*" || p == s) && model_matches(p_rest, s_rest)
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn validation_agrees_with_the_model(s in text()) {
        prop_assert_eq!(subject::is_valid_subject(&s), model_valid(&s));
        prop_assert_eq!(subject::is_valid_literal_subject(&s), model_literal(&s));
        prop_assert_eq!(subject::is_valid_queue_name(&s), model_queue(&s));
    }

    #[test]
    fn matching_agrees_with_the_model(pattern in text(), subject in text()) {
        let subject_tokens = split(&subject);
        let want = subject_tokens.iter().all(|t| !t.is_empty())
            && model_matches(&split(&pattern), &subject_tokens);
        prop_assert_eq!(subject::matches(&pattern, &subject), want);
    }

    #[test]
    fn a_valid_literal_subject_matches_itself(s in text()) {
        if subject::is_valid_literal_subject(&s) {
            prop_assert!(subject::matches(&s, &s));
        }
    }

    #[test]
    fn tokens_rejoin_to_the_subject(s in text()) {
        prop_assert_eq!(subject::tokens(&s).collect::<Vec<_>>().join(&b'.'), s);
    }
}
