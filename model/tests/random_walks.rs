//! Random walks through every variant: structural invariants that must hold
//! in every reachable state, whatever the variant gets right or wrong.

use proptest::prelude::*;
use stateright::Model;
use timewait_model::endpoint::TcpState;
use timewait_model::symmetry::{mirrored, representative};
use timewait_model::{Config, Preset, State, TeardownModel};

fn check_invariants(m: &TeardownModel, s: &State) -> Result<(), String> {
    let c = &m.cfg;
    let sp = c.space();
    if !s.net.windows(2).all(|w| w[0] <= w[1]) {
        return Err("network not sorted".into());
    }
    if s.net.iter().any(|g| g.age >= c.msl) {
        return Err("a segment outlived MSL".into());
    }
    if s.losses_left > c.loss_budget || s.dups_left > c.dup_budget {
        return Err("budget grew".into());
    }
    for e in &s.eps {
        let d = format!("{e:?}");
        if !(e.app_inc >= e.inc && e.app_inc - e.inc <= 1 && e.app_inc <= c.incarnations) {
            return Err(format!("incarnation bookkeeping: {d}"));
        }
        if e.listen_iss.is_some() != (e.app_inc == e.inc + 1) {
            return Err(format!("a listen waits only beside an old connection: {d}"));
        }
        // Beside TIME-WAIT; under tcp_tw_reuse a server also listens while
        // its old connection is in LAST-ACK.
        let may_wait =
            e.state == TcpState::TimeWait || (c.behaviour.tw_reuse && e.state == TcpState::LastAck);
        if e.listen_iss.is_some() && !may_wait {
            return Err(format!("waiting listen outside TIME-WAIT: {d}"));
        }
        match e.state {
            TcpState::Closed | TcpState::Listen => {
                if e.snd_una != 0 || e.snd_nxt != 0 || e.rcv_nxt != 0 || e.rtx != 0 {
                    return Err(format!("TCB left in {}: {d}", e.state));
                }
            }
            _ => {
                if !sp.le(e.snd_una, e.snd_nxt) {
                    return Err(format!("SND.UNA after SND.NXT: {d}"));
                }
                // SYN + data + FIN at most.
                if sp.diff(e.snd_nxt, e.iss) > u32::from(c.data_sends) + 2 {
                    return Err(format!("SND.NXT beyond what was sent: {d}"));
                }
            }
        }
        if (e.state == TcpState::TimeWait) != (e.tw > 0) {
            return Err(format!("TIME-WAIT timer: {d}"));
        }
        if e.tw > c.time_wait_ticks().unwrap_or(0) {
            return Err(format!("TIME-WAIT timer too long: {d}"));
        }
        if e.retries > c.max_retries {
            return Err(format!("too many retries: {d}"));
        }
        if e.held.iter().any(|h| !sp.lt(e.rcv_nxt, h.seq)) {
            return Err(format!("held segment not ahead of RCV.NXT: {d}"));
        }
    }
    if representative(s.clone()) != *s {
        return Err("state is not its own representative".into());
    }
    if representative(mirrored(s)) != *s {
        return Err("mirror has a different representative".into());
    }
    Ok(())
}

proptest! {
    // 256 walks by default; PROPTEST_CASES=N runs N (a longer hunt).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_walks_keep_the_structural_invariants(
        preset in prop::sample::select(Preset::ALL.to_vec()),
        choices in prop::collection::vec(any::<prop::sample::Index>(), 1..120),
        loss in 0u8..=2, dup in 0u8..=2, incarnations in 1u8..=3,
    ) {
        let cfg = Config {
            loss_budget: loss,
            dup_budget: dup,
            incarnations,
            behaviour: preset.behaviour(2),
            ..Config::default()
        };
        cfg.validate().unwrap();
        let m = TeardownModel::new(cfg, timewait_model::PropertyId::ALL.to_vec());
        let mut s = m.init_states().remove(0);
        check_invariants(&m, &s).map_err(TestCaseError::fail)?;
        let mut actions = Vec::new();
        for c in choices {
            actions.clear();
            m.actions(&s, &mut actions);
            if actions.is_empty() {
                break;
            }
            let a = actions[c.index(actions.len())].clone();
            let desc = a.describe();
            s = m.next_state(&s, a).ok_or_else(|| TestCaseError::fail(format!("listed action not enabled: {desc}")))?;
            check_invariants(&m, &s).map_err(|e| TestCaseError::fail(format!("after {desc}: {e}")))?;
        }
    }
}
