//! Symmetry reduction: the model is unchanged by swapping the names A and B
//! (both start ESTABLISHED with the same ISN, and every rule and application
//! action is the same for both), so the checker stores one representative of
//! each mirrored pair. stateright 0.31 applies symmetry only in its DFS; the
//! BFS used here gets it from the model returning representatives.

use crate::segment::Side;
use crate::system::{Action, State};

fn flip(side: Side) -> Side {
    side.peer()
}

/// The same situation with A and B swapped.
pub fn mirrored(s: &State) -> State {
    let mut m = s.clone();
    mirror(&mut m);
    m
}

/// Swaps A and B in place.
fn mirror(m: &mut State) {
    m.eps.swap(0, 1);
    for seg in m.net.iter_mut() {
        seg.from = flip(seg.from);
    }
    m.net.sort_unstable();
    if let Some(c) = m.ghost.cross.as_mut() {
        c.at = flip(c.at);
    }
    if let Some(r) = m.ghost.reset.as_mut() {
        r.at = flip(r.at);
    }
    if let Some(t) = m.ghost.timeout.as_mut() {
        t.at = flip(t.at);
    }
}

/// The representative of `s` and its mirror: the smaller of the two.
///
/// `State` orders by `eps` first, and the mirror's `eps` are `s`'s swapped,
/// so unless both endpoints are equal the endpoints alone decide, without
/// building the mirror (this runs on every generated state).
pub fn representative(mut s: State) -> State {
    match s.eps[1].cmp(&s.eps[0]) {
        std::cmp::Ordering::Less => {
            mirror(&mut s);
            s
        }
        std::cmp::Ordering::Greater => s,
        std::cmp::Ordering::Equal => {
            let m = mirrored(&s);
            if m < s {
                m
            } else {
                s
            }
        }
    }
}

/// The same action with A and B swapped.
pub fn mirrored_action(a: &Action) -> Action {
    let seg = |s: &crate::segment::Segment| {
        let mut s = *s;
        s.from = flip(s.from);
        s
    };
    match a {
        Action::Deliver(s) => Action::Deliver(seg(s)),
        Action::DeliverCopy(s) => Action::DeliverCopy(seg(s)),
        Action::Tick => Action::Tick,
        Action::Send(x) => Action::Send(flip(*x)),
        Action::Close(x) => Action::Close(flip(*x)),
        Action::Abort(x) => Action::Abort(flip(*x)),
        Action::Listen(x, i) => Action::Listen(flip(*x), *i),
        Action::Connect(x, i) => Action::Connect(flip(*x), *i),
    }
}
