//! The sublist against a brute-force model: a list of subscriptions, each checked with
//! `subject::matches`. Random inserts, removes and lookups over a small alphabet are
//! interleaved so that cached results get patched, pruned paths get rebuilt and, with a
//! flooded cache, sweeps happen in between.

use proptest::prelude::*;
use rnats_core::subject;
use rnats_core::sublist::{InvalidSubject, MatchResult, QueueGroup, Sublist};

type Sub = (Vec<u8>, Option<Vec<u8>>, u8);

#[derive(Clone, Debug)]
enum Op {
    Insert(Sub),
    Remove(Sub),
    Match(Vec<u8>),
    HasInterest(Vec<u8>),
}

/// Subjects and patterns of 1 to 4 tokens over a few letters, the wildcards and, rarely,
/// an empty token.
fn subject_text() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        6 => Just("a"),
        6 => Just("b"),
        3 => Just("cd"),
        4 => Just("*"),
        4 => Just(">"),
        1 => Just(""),
    ];
    prop::collection::vec(token, 1..=4).prop_map(|t| t.join(".").into_bytes())
}

/// Also subjects of the flood, so patched results of flooded entries get compared.
fn lookup_subject() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        9 => subject_text(),
        1 => (0..1537u32).prop_map(|i| format!("f.{i}").into_bytes()),
    ]
}

fn sub() -> impl Strategy<Value = Sub> {
    let queue = prop_oneof![
        3 => Just(None),
        1 => Just(Some(b"q1".to_vec())),
        1 => Just(Some(b"q2".to_vec())),
    ];
    (subject_text(), queue, 0..4u8)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => sub().prop_map(Op::Insert),
        // Half the removes target something likely present.
        2 => sub().prop_map(Op::Remove),
        5 => lookup_subject().prop_map(Op::Match),
        2 => lookup_subject().prop_map(Op::HasInterest),
    ]
}

/// The insert rule, written apart from the crate: no empty token, `>` only last.
fn model_accepts(pattern: &[u8]) -> bool {
    let tokens: Vec<&[u8]> = pattern.split(|&b| b == b'.').collect();
    tokens.iter().all(|t| !t.is_empty()) && tokens[..tokens.len() - 1].iter().all(|t| *t != b">")
}

/// What the sublist must answer, in its canonical order.
fn model_match(model: &[Sub], subject: &[u8]) -> MatchResult<u8> {
    let mut result = MatchResult::default();
    for (pattern, queue, v) in model {
        if !subject::matches(pattern, subject) {
            continue;
        }
        match queue {
            None => result.plain.push(*v),
            Some(name) => match result.queues.iter_mut().find(|g| *g.name == **name) {
                Some(group) => group.members.push(*v),
                None => result.queues.push(QueueGroup {
                    name: name.clone().into_boxed_slice(),
                    members: vec![*v],
                }),
            },
        }
    }
    result.plain.sort();
    result.queues.sort_by(|a, b| a.name.cmp(&b.name));
    for group in &mut result.queues {
        group.members.sort();
    }
    result
}

fn run(ops: Vec<Op>, flood: bool) -> Result<(), TestCaseError> {
    let mut sl = Sublist::new();
    let mut model: Vec<Sub> = Vec::new();
    if flood {
        // Fill the cache to its bound (after one sweep) so that the next miss sweeps it.
        for i in 0..1537u32 {
            let subject = format!("f.{i}");
            prop_assert!(sl.matches(subject.as_bytes()).is_empty());
        }
    }
    for op in ops {
        match op {
            Op::Insert((pattern, queue, v)) => {
                let got = sl.insert(&pattern, queue.as_deref(), v);
                if !model_accepts(&pattern) {
                    prop_assert_eq!(got, Err(InvalidSubject));
                } else {
                    prop_assert_eq!(got, Ok(()));
                    let sub = (pattern, queue, v);
                    if !model.contains(&sub) {
                        model.push(sub);
                    }
                }
            }
            Op::Remove(sub) => {
                let was = model.iter().position(|s| *s == sub);
                prop_assert_eq!(sl.remove(&sub.0, sub.1.as_deref(), sub.2), was.is_some());
                if let Some(at) = was {
                    model.remove(at);
                }
            }
            Op::Match(subject) => {
                let want = model_match(&model, &subject);
                let got = sl.matches(&subject);
                prop_assert_eq!(
                    &*got,
                    &want,
                    "subject {:?}",
                    String::from_utf8_lossy(&subject)
                );
            }
            Op::HasInterest(subject) => {
                let want = !model_match(&model, &subject).is_empty();
                prop_assert_eq!(sl.has_interest(&subject), want);
            }
        }
        prop_assert_eq!(sl.count(), model.len());
    }
    // Whatever the cache holds now must still be exact.
    for pattern in model.iter().map(|s| s.0.clone()).collect::<Vec<_>>() {
        let want = model_match(&model, &pattern);
        prop_assert_eq!(&*sl.matches(&pattern), &want);
    }
    Ok(())
}

/// Ops that remove what earlier ops inserted, so removals and pruning are frequent.
fn ops_with_removals() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec((op(), any::<prop::sample::Index>()), 1..120).prop_map(|pairs| {
        let mut inserted: Vec<Sub> = Vec::new();
        let mut ops = Vec::new();
        for (op, pick) in pairs {
            match op {
                Op::Remove(_) if !inserted.is_empty() => {
                    ops.push(Op::Remove(inserted[pick.index(inserted.len())].clone()));
                }
                Op::Insert(sub) => {
                    inserted.push(sub.clone());
                    ops.push(Op::Insert(sub));
                }
                other => ops.push(other),
            }
        }
        ops
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn agrees_with_the_model(ops in ops_with_removals()) {
        run(ops, false)?;
    }

    #[test]
    fn agrees_with_the_model_across_cache_sweeps(ops in ops_with_removals()) {
        run(ops, true)?;
    }

    #[test]
    fn agrees_with_the_model_on_random_removes(ops in prop::collection::vec(op(), 1..120)) {
        run(ops, false)?;
    }
}
