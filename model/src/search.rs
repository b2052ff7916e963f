//! Two graph searches that stateright 0.31 does not offer soundly, run over
//! the same [`Model`]:
//!
//! - [`shortest_discovery`]: a level-by-level BFS that stops at the first
//!   level holding a discovery, so the path is a shortest one. stateright's
//!   BFS may overwrite a discovery with a later, longer path while other
//!   properties are still open, so its paths are not used for reports.
//! - [`find_cycle`]: a DFS that finds a reachable cycle, i.e. an infinite
//!   behaviour. Together with an `always` property on quiescent states this is
//!   the liveness argument: every behaviour is finite, so it ends in a
//!   quiescent state, and every quiescent state is "both closed".
//!
//! Both identify states by a 64-bit hash (as stateright does), so a hash
//! collision could merge two states; at 10^7 states the chance is below 10^-5.

use rustc_hash::{FxHashMap, FxHasher};
use stateright::Model;
use std::hash::{Hash, Hasher};
use std::time::Instant;

fn fp<T: Hash>(t: &T) -> u64 {
    let mut h = FxHasher::default();
    t.hash(&mut h);
    h.finish()
}

/// Why a search stopped without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cutoff {
    States,
    Time,
}

/// Limits on a search.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub max_states: Option<usize>,
    pub deadline: Option<Instant>,
}

impl Budget {
    fn exceeded(&self, states: usize) -> Option<Cutoff> {
        if self.max_states.is_some_and(|m| states >= m) {
            return Some(Cutoff::States);
        }
        if states.is_multiple_of(4096) && self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Cutoff::Time);
        }
        None
    }
}

/// A path: the initial state and the actions taken from it, with every state.
pub struct Found<M: Model> {
    pub states: Vec<M::State>,
    pub actions: Vec<M::Action>,
}

/// The outcome of a search.
pub enum Outcome<T> {
    Found(T),
    NotFound { states: usize },
    Cut(Cutoff),
}

/// A shortest path from an initial state to a state satisfying `goal`.
pub fn shortest_discovery<M>(
    model: &M,
    goal: impl Fn(&M::State) -> bool,
    budget: Budget,
) -> Outcome<Found<M>>
where
    M: Model,
    M::State: Hash + Clone,
    M::Action: Clone,
{
    // parent[fp] = (parent fp, action index); roots have no entry parent.
    let mut parent: FxHashMap<u64, Option<(u64, usize)>> = FxHashMap::default();
    let mut level: Vec<M::State> = Vec::new();
    let inits = model.init_states();
    for s in &inits {
        let f = fp(s);
        if parent.insert(f, None).is_none() {
            if goal(s) {
                return Outcome::Found(Found {
                    states: vec![s.clone()],
                    actions: vec![],
                });
            }
            level.push(s.clone());
        }
    }
    let mut actions = Vec::new();
    while !level.is_empty() {
        let mut next = Vec::new();
        for s in &level {
            let sf = fp(s);
            actions.clear();
            model.actions(s, &mut actions);
            for (i, a) in actions.drain(..).enumerate() {
                let Some(t) = model.next_state(s, a) else {
                    continue;
                };
                let tf = fp(&t);
                if parent.contains_key(&tf) {
                    continue;
                }
                parent.insert(tf, Some((sf, i)));
                if goal(&t) {
                    return Outcome::Found(replay(model, &inits, &parent, tf));
                }
                if let Some(c) = budget.exceeded(parent.len()) {
                    return Outcome::Cut(c);
                }
                next.push(t);
            }
        }
        level = next;
    }
    Outcome::NotFound {
        states: parent.len(),
    }
}

/// Rebuilds the path to `target` by replaying the recorded action indices.
fn replay<M>(
    model: &M,
    inits: &[M::State],
    parent: &FxHashMap<u64, Option<(u64, usize)>>,
    target: u64,
) -> Found<M>
where
    M: Model,
    M::State: Hash + Clone,
    M::Action: Clone,
{
    let mut indices = Vec::new();
    let mut cur = target;
    while let Some(Some((p, i))) = parent.get(&cur) {
        indices.push(*i);
        cur = *p;
    }
    indices.reverse();
    let root = inits
        .iter()
        .find(|s| fp(*s) == cur)
        .expect("a path found by the search starts at an initial state")
        .clone();
    follow(model, root, &indices)
}

/// Follows action indices from `root`. The model's actions are deterministic,
/// so indices recorded during a search name the same actions again.
pub fn follow<M>(model: &M, root: M::State, indices: &[usize]) -> Found<M>
where
    M: Model,
    M::State: Clone,
    M::Action: Clone,
{
    let mut states = vec![root];
    let mut taken = Vec::new();
    let mut buf = Vec::new();
    for &i in indices {
        let cur = states.last().expect("path has a root").clone();
        buf.clear();
        model.actions(&cur, &mut buf);
        let a = buf[i].clone();
        let next = model
            .next_state(&cur, a.clone())
            .expect("a recorded action is enabled on replay");
        taken.push(a);
        states.push(next);
    }
    Found {
        states,
        actions: taken,
    }
}

/// A lasso: a path to a state from which `cycle_len` more steps return to it.
pub struct Lasso<M: Model> {
    pub path: Found<M>,
    /// The last `cycle_len` actions of `path` form the cycle.
    pub cycle_len: usize,
}

/// Finds a reachable cycle, or proves there is none.
pub fn find_cycle<M>(model: &M, budget: Budget) -> Outcome<Lasso<M>>
where
    M: Model,
    M::State: Hash + Clone,
    M::Action: Clone,
{
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        OnStack,
        Done,
    }
    let mut colour: FxHashMap<u64, Colour> = FxHashMap::default();
    // Each frame: state, its fingerprint, its actions (listed once: the DFS
    // takes a state's successors one at a time, and listing the actions
    // again for each repeated that work once per successor) and the index of
    // the next one to take.
    struct Frame<S, A> {
        state: S,
        fp: u64,
        actions: Vec<A>,
        next: usize,
    }
    let frame = |state: M::State, fp: u64| {
        let mut actions = Vec::new();
        model.actions(&state, &mut actions);
        Frame {
            state,
            fp,
            actions,
            next: 0,
        }
    };
    for root in model.init_states() {
        let rf = fp(&root);
        if colour.contains_key(&rf) {
            continue;
        }
        let mut stack = vec![frame(root, rf)];
        colour.insert(rf, Colour::OnStack);
        while let Some(top) = stack.last_mut() {
            let Some(a) = top.actions.get(top.next).cloned() else {
                colour.insert(top.fp, Colour::Done);
                stack.pop();
                continue;
            };
            top.next += 1;
            let Some(t) = model.next_state(&top.state, a) else {
                continue;
            };
            let tf = fp(&t);
            match colour.get(&tf) {
                Some(Colour::Done) => continue,
                Some(Colour::OnStack) => {
                    // Back edge: the stack from `t` to the top plus this edge.
                    let start = stack
                        .iter()
                        .position(|f| f.fp == tf)
                        .expect("an on-stack state is on the stack");
                    let indices: Vec<usize> = stack.iter().map(|f| f.next - 1).collect();
                    let root = stack[0].state.clone();
                    let path = follow(model, root, &indices);
                    return Outcome::Found(Lasso {
                        cycle_len: stack.len() - start,
                        path,
                    });
                }
                None => {}
            }
            colour.insert(tf, Colour::OnStack);
            if let Some(c) = budget.exceeded(colour.len()) {
                return Outcome::Cut(c);
            }
            stack.push(frame(t, tf));
        }
    }
    Outcome::NotFound {
        states: colour.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line 0..=n with a shortcut 0 -> n-1 and, optionally, an edge back
    /// from n to 1.
    struct Line {
        n: u32,
        back: bool,
    }

    impl Model for Line {
        type State = u32;
        type Action = u32;
        fn init_states(&self) -> Vec<u32> {
            vec![0]
        }
        fn actions(&self, s: &u32, out: &mut Vec<u32>) {
            if *s < self.n {
                out.push(s + 1);
            }
            if *s == 0 {
                out.push(self.n - 1);
            }
            if self.back && *s == self.n {
                out.push(1);
            }
        }
        fn next_state(&self, _: &u32, a: u32) -> Option<u32> {
            Some(a)
        }
    }

    const FREE: Budget = Budget {
        max_states: None,
        deadline: None,
    };

    #[test]
    fn bfs_takes_the_shortcut() {
        let m = Line { n: 10, back: false };
        let Outcome::Found(f) = shortest_discovery(&m, |s| *s == 10, FREE) else {
            panic!("10 is reachable");
        };
        assert_eq!(f.actions, vec![9, 10], "0 -> 9 -> 10, not ten steps");
    }

    #[test]
    fn acyclic_graph_has_no_cycle() {
        let m = Line { n: 10, back: false };
        assert!(matches!(
            find_cycle(&m, FREE),
            Outcome::NotFound { states: 11 }
        ));
    }

    #[test]
    fn back_edge_is_reported_as_a_lasso() {
        let m = Line { n: 5, back: true };
        let Outcome::Found(l) = find_cycle(&m, FREE) else {
            panic!("5 -> 1 closes a cycle");
        };
        let last = *l.path.states.last().unwrap();
        let entry = l.path.states[l.path.states.len() - 1 - l.cycle_len];
        assert_eq!(last, entry, "the cycle returns to its entry state");
        assert_eq!(l.cycle_len, 5, "1 -> 2 -> 3 -> 4 -> 5 -> 1");
    }
}
