//! A linearizability checker for one read/write register (run it per key), in the style of
//! Wing & Gong with Lowe's memoisation (as Porcupine does): search for an order of the
//! operations that respects real time (an operation that returned before another was
//! invoked comes first) and the register's semantics (a read returns the last write),
//! never visiting the same (set of operations done, register value) twice.
//!
//! An operation that never returned (its answer was lost, or it was still running) may
//! have taken effect at any time after its invocation, or never. Reads that never
//! returned say nothing and are dropped; so are writes that never returned and whose value
//! no read saw (placing such a write anywhere, or nowhere, changes no read's answer), which
//! keeps the search small when many answers are lost. Written values must be unique.

use std::collections::BTreeSet;

/// What an operation did to the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    Write(u64),
    /// A read and the value it returned (`None`: never written).
    Read(Option<u64>),
}

/// One operation: invoked at `call`, returned at `ret` (simulated nanoseconds; `None`:
/// never returned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    pub call: u64,
    pub ret: Option<u64>,
    pub op: RegisterOp,
}

/// Why a history was not shown linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No order exists; `stuck` are the operations that no order could place next, at the
    /// deepest point the search reached.
    NotLinearizable { stuck: Vec<Call> },
    /// The search took more than its budget of steps (neither proven nor refuted).
    GaveUp,
}

/// Checks a register history, visiting at most `budget` search states.
pub fn check_register(calls: &[Call], budget: u64) -> Result<(), Failure> {
    let read_values: BTreeSet<u64> = calls
        .iter()
        .filter_map(|c| match c.op {
            RegisterOp::Read(Some(v)) if c.ret.is_some() => Some(v),
            _ => None,
        })
        .collect();
    let mut ops: Vec<Call> = calls
        .iter()
        .filter(|c| match c.op {
            RegisterOp::Read(_) => c.ret.is_some(),
            RegisterOp::Write(v) => c.ret.is_some() || read_values.contains(&v),
        })
        .copied()
        .collect();
    ops.sort_by_key(|c| c.call);
    Search::new(&ops).run(budget)
}

/// The depth-first search over partial orders.
struct Search<'a> {
    ops: &'a [Call],
    /// Operations placed so far, as a bit set.
    done: Vec<u64>,
    /// Completed operations not placed yet: when all are placed the history is linearizable
    /// (the rest never returned and may never have happened).
    completed_left: usize,
    seen: BTreeSet<(Vec<u64>, Option<u64>)>,
    deepest: (usize, Vec<Call>),
}

impl<'a> Search<'a> {
    fn new(ops: &'a [Call]) -> Search<'a> {
        Search {
            ops,
            done: vec![0; ops.len().div_ceil(64)],
            completed_left: ops.iter().filter(|c| c.ret.is_some()).count(),
            seen: BTreeSet::new(),
            deepest: (0, Vec::new()),
        }
    }

    fn is_done(&self, i: usize) -> bool {
        self.done[i / 64] & (1 << (i % 64)) != 0
    }

    fn flip(&mut self, i: usize) {
        self.done[i / 64] ^= 1 << (i % 64);
    }

    /// The operations that may come next: not placed, and invoked before every operation
    /// not placed returned (else that one must come first).
    fn candidates(&self) -> Vec<usize> {
        let first_ret = (0..self.ops.len())
            .filter(|&i| !self.is_done(i))
            .filter_map(|i| self.ops[i].ret)
            .min()
            .unwrap_or(u64::MAX);
        (0..self.ops.len())
            .take_while(|&i| self.ops[i].call <= first_ret)
            .filter(|&i| !self.is_done(i))
            .collect()
    }

    fn run(mut self, budget: u64) -> Result<(), Failure> {
        // Each frame: the register value before it, its candidates, the next one to try.
        let mut stack: Vec<(Option<u64>, Vec<usize>, usize)> = vec![(None, self.candidates(), 0)];
        let mut steps = 0u64;
        while let Some((value, cands, next)) = stack.last_mut() {
            if *next == cands.len() {
                // Every candidate failed here: undo the step that led here.
                stack.pop();
                if let Some((_, cands, next)) = stack.last() {
                    let i = cands[*next - 1];
                    self.flip(i);
                    if self.ops[i].ret.is_some() {
                        self.completed_left += 1;
                    }
                }
                continue;
            }
            let i = cands[*next];
            *next += 1;
            let after = match self.ops[i].op {
                RegisterOp::Write(v) => Some(v),
                RegisterOp::Read(r) if r == *value => r,
                RegisterOp::Read(_) => continue,
            };
            steps += 1;
            if steps > budget {
                return Err(Failure::GaveUp);
            }
            self.flip(i);
            if self.ops[i].ret.is_some() {
                self.completed_left -= 1;
            }
            if self.completed_left == 0 {
                return Ok(());
            }
            if self.seen.insert((self.done.clone(), after)) {
                let depth = stack.len();
                let cands = self.candidates();
                if depth > self.deepest.0 {
                    self.deepest = (depth, cands.iter().map(|&k| self.ops[k]).collect());
                }
                stack.push((after, cands, 0));
            } else {
                self.flip(i);
                if self.ops[i].ret.is_some() {
                    self.completed_left += 1;
                }
            }
        }
        if self.ops.iter().all(|c| c.ret.is_none()) {
            return Ok(());
        }
        Err(Failure::NotLinearizable {
            stuck: self.deepest.1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(call: u64, ret: Option<u64>, v: u64) -> Call {
        Call {
            call,
            ret,
            op: RegisterOp::Write(v),
        }
    }

    fn r(call: u64, ret: Option<u64>, v: Option<u64>) -> Call {
        Call {
            call,
            ret,
            op: RegisterOp::Read(v),
        }
    }

    #[test]
    fn sequential_and_overlapping_histories() {
        assert_eq!(check_register(&[], 100), Ok(()));
        let h = [w(0, Some(1), 1), r(2, Some(3), Some(1)), w(4, Some(5), 2)];
        assert_eq!(check_register(&h, 100), Ok(()));
        // The read overlaps both writes: it may see either, or the initial value.
        for seen in [None, Some(1), Some(2)] {
            let h = [w(0, Some(10), 1), w(1, Some(11), 2), r(2, Some(12), seen)];
            assert_eq!(check_register(&h, 100), Ok(()), "{seen:?}");
        }
    }

    #[test]
    fn stale_read_is_caught() {
        // Write 2 returned before the read began, yet the read saw 1.
        let h = [w(0, Some(1), 1), w(2, Some(3), 2), r(4, Some(5), Some(1))];
        assert!(matches!(
            check_register(&h, 100),
            Err(Failure::NotLinearizable { .. })
        ));
        // A value read back and forth: 1, then 2, then 1 again with no write of 1 between.
        let h = [
            w(0, None, 1),
            w(0, None, 2),
            r(1, Some(2), Some(1)),
            r(3, Some(4), Some(2)),
            r(5, Some(6), Some(1)),
        ];
        assert!(check_register(&h, 1000).is_err());
        // A value nobody wrote.
        assert!(check_register(&[r(0, Some(1), Some(7))], 100).is_err());
    }

    #[test]
    fn unanswered_writes_may_land_late_or_never() {
        // Never answered, seen long after: it took effect late.
        let h = [
            w(0, None, 1),
            r(10, Some(11), None),
            r(20, Some(21), Some(1)),
        ];
        assert_eq!(check_register(&h, 100), Ok(()));
        // Never answered and never seen: maybe it never happened.
        let h = [w(0, None, 1), w(1, Some(2), 2), r(3, Some(4), Some(2))];
        assert_eq!(check_register(&h, 100), Ok(()));
        // But it cannot take effect before it was invoked.
        let h = [r(0, Some(1), Some(1)), w(5, None, 1)];
        assert!(check_register(&h, 100).is_err());
    }

    #[test]
    fn budget_is_reported() {
        let h: Vec<Call> = (0..20).map(|k| w(0, Some(100), k)).collect();
        let mut h = h;
        h.push(r(200, Some(201), Some(99)));
        assert_eq!(check_register(&h, 5), Err(Failure::GaveUp));
    }
}
