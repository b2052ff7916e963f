//! Property tests of the loader: any spec written by the emitter reads back
//! as the same spec, and no input (random bytes, or a valid spec mangled
//! at random) makes the loader panic or give an error without a location.

use proptest::prelude::*;
use serde_saphyr::{Location, Spanned};
use std::path::{Path, PathBuf};
use timewait_model::Preset;
use timewait_specs::format::*;
use timewait_specs::options::{EchoedTs, ExpectOptions, Want};
use timewait_specs::values::{Duration, Flags, SeqValue, SutIsn, Unit, MAX_RELATIVE};
use timewait_specs::{emit, load};

fn sp<T>(v: T) -> Spanned<T> {
    Spanned::new(v, Location::UNKNOWN, Location::UNKNOWN)
}

fn duration(units: &'static [Unit]) -> impl Strategy<Value = Duration> {
    (0u64..100_000, prop::sample::select(units)).prop_map(|(m, unit)| Duration {
        milli_units: m,
        unit,
    })
}

const ANY_UNIT: &[Unit] = &[Unit::Millis, Unit::Seconds, Unit::Msl, Unit::TimeWait];
const TIME_UNIT: &[Unit] = &[Unit::Millis, Unit::Seconds];

fn seq() -> impl Strategy<Value = SeqValue> {
    prop_oneof![
        (-MAX_RELATIVE..=MAX_RELATIVE).prop_map(SeqValue::Rel),
        any::<u32>().prop_map(SeqValue::Abs),
    ]
}

fn flags() -> impl Strategy<Value = Flags> {
    (1u8..32).prop_map(Flags::from_bits)
}

fn options() -> impl Strategy<Value = TcpOptions> {
    (
        prop::option::of(any::<u16>()),
        prop::option::of(any::<u8>()),
        any::<bool>(),
        prop::option::of((any::<u32>(), any::<u32>())),
    )
        .prop_map(|(mss, wscale, sack_ok, ts)| TcpOptions {
            mss,
            wscale,
            sack_ok,
            ts: ts.map(|(val, ecr)| Timestamps { val, ecr }),
            other: Vec::new(),
        })
}

fn want<T: std::fmt::Debug + Clone + 'static>(
    value: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<Want<T>>> {
    prop::option::of(prop_oneof![
        Just(Want::Absent),
        Just(Want::Present),
        value.prop_map(Want::Is),
    ])
}

fn expect_options() -> impl Strategy<Value = ExpectOptions> {
    (
        want(any::<u16>()),
        want(any::<u8>()),
        // A bare option is only there or not: `present` reads as Present.
        prop::option::of(prop_oneof![Just(Want::Absent), Just(Want::Present)]),
        want(any::<u32>().prop_map(|ecr| EchoedTs { ecr })),
        any::<bool>(),
    )
        .prop_map(|(mss, wscale, sack_ok, ts, exact)| ExpectOptions {
            mss,
            wscale,
            sack_ok,
            ts,
            exact,
        })
}

fn text() -> impl Strategy<Value = String> {
    prop::string::string_regex("(\\PC|\n| ){1,40}").expect("regex")
}

fn step() -> impl Strategy<Value = Step> {
    let app = prop_oneof![
        Just(App::Listen),
        Just(App::ListenPersistent),
        Just(App::Accept),
        Just(App::CloseListener),
        Just(App::Connect),
        any::<u16>().prop_map(App::Send),
        Just(App::Shutdown),
        Just(App::Close),
        Just(App::Abort),
    ];
    let inject = (
        flags(),
        seq(),
        prop::option::of(seq()),
        any::<u16>(),
        prop::option::of(any::<u16>()),
        options(),
        prop::option::of(1u32..4),
    )
        .prop_map(|(flags, seq, ack, len, win, options, incarnation)| Inject {
            flags,
            seq,
            ack,
            len,
            win,
            options,
            incarnation,
        });
    let expect = (
        flags(),
        prop::option::of(seq()),
        prop::option::of(seq()),
        prop::option::of(any::<u16>()),
        prop::option::of(expect_options()),
        prop::option::of(1u32..4),
        prop::option::of(duration(ANY_UNIT)),
        prop::option::of(duration(ANY_UNIT)),
        prop::option::of(duration(TIME_UNIT)),
    )
        .prop_map(
            |(flags, seq, ack, len, options, incarnation, after, within, tolerance)| Expect {
                flags,
                seq,
                ack,
                len,
                win: None,
                options,
                incarnation,
                after,
                within,
                tolerance,
            },
        );
    let state = prop::sample::select(SockState::ALL.to_vec());
    prop_oneof![
        app.clone().prop_map(Step::App),
        app.prop_map(Step::AppRefused),
        inject.prop_map(Step::Inject),
        expect.prop_map(Step::Expect),
        (duration(ANY_UNIT), prop::option::of(flags()))
            .prop_map(|(duration, flags)| Step::ExpectNone(ExpectNone { duration, flags })),
        duration(ANY_UNIT).prop_map(Step::Wait),
        (
            state,
            prop::option::of((duration(ANY_UNIT), duration(ANY_UNIT))),
            prop::option::of(duration(TIME_UNIT)),
        )
            .prop_map(|(state, r, tolerance)| Step::ExpectState(ExpectState {
                state,
                remaining: r.map(|(min, max)| Range { min, max }),
                tolerance,
            })),
        (
            seq(),
            prop::option::of(prop_oneof![
                seq().prop_map(SutIsn::Seq),
                (-MAX_RELATIVE..=MAX_RELATIVE).prop_map(SutIsn::SndNxt),
            ])
        )
            .prop_map(|(peer_isn, sut_isn)| Step::Incarnation(Incarnation { peer_isn, sut_isn })),
        text().prop_map(Step::Note),
    ]
}

fn variants() -> impl Strategy<Value = Vec<Spanned<VariantName>>> {
    prop::sample::subsequence(Preset::ALL.to_vec(), 0..4)
        .prop_map(|v| v.into_iter().map(|p| sp(VariantName(p))).collect())
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        prop::option::of(any::<u8>()),
        prop::option::of(any::<u8>()),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
    )
        .prop_map(|(a, b, c, d)| Profile {
            tcp_rfc1337: a,
            tcp_timestamps: b,
            tcp_max_tw_buckets: c,
            tcp_invalid_ratelimit: d,
            ..Profile::default()
        })
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        "[a-z][a-z0-9-]{0,20}",
        text(),
        prop::collection::vec("\\PC{1,10}", 0..3),
        prop::sample::select(vec![
            Role::ActiveCloser,
            Role::PassiveCloser,
            Role::SimultaneousClose,
            Role::NewIncarnationListener,
        ]),
        prop::option::of(profile()),
        (
            duration(TIME_UNIT),
            prop::option::of(duration(ANY_UNIT)),
            prop::option::of(duration(TIME_UNIT)),
            prop::option::of(any::<u32>()),
        ),
        (variants(), variants()),
        prop::collection::vec(step(), 0..12),
    )
        .prop_map(
            |(name, description, tags, role, profile, (msl, tw, tol, isn), (pass, fail), steps)| {
                Spec {
                    name: sp(name),
                    description,
                    tags,
                    role: sp(role),
                    profile: profile.map(sp),
                    msl: sp(msl),
                    time_wait: tw.map(sp),
                    tolerance: tol.map(sp),
                    peer_isn: isn,
                    model: sp(ModelVerdicts { pass, fail }),
                    steps: steps.into_iter().map(sp).collect(),
                }
            },
        )
}

fn reviewed() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("reviewed");
    load::collect(&[dir])
        .expect("reviewed specs")
        .into_iter()
        .map(|p| {
            let t = std::fs::read_to_string(&p).expect("read");
            (p, t)
        })
        .collect()
}

fn all_located(e: &load::LoadError) -> bool {
    e.diagnostics().iter().all(|d| d.line >= 1 && d.column >= 1)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn emitted_specs_read_back_unchanged(s in spec()) {
        let yaml = emit::to_yaml(&s);
        let path = PathBuf::from(format!("{}.yaml", s.name.value));
        match load::parse_str(&path, &yaml) {
            Ok(back) => prop_assert!(back == s, "read back differently:\n{}", yaml),
            Err(e) => prop_assert!(false, "{}\n--- emitted:\n{}", e, yaml),
        }
    }

    #[test]
    fn random_bytes_never_panic_and_errors_have_locations(
        bytes in prop::collection::vec(any::<u8>(), 0..600)
    ) {
        if let Err(e) = load::load_bytes(Path::new("fuzz.yaml"), &bytes) {
            prop_assert!(all_located(&e), "{:?}", e.diagnostics());
        }
    }

    #[test]
    fn mangled_specs_never_panic_and_errors_have_locations(
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..40,
        insert in "[ :\\-\\[\\]{},&*!|>'\"#\\n\\ta-zA-Z0-9.]{0,8}",
    ) {
        let specs = reviewed();
        let (path, text) = &specs[which.index(specs.len())];
        let mut bytes = text.as_bytes().to_vec();
        let pos = at.index(bytes.len() + 1);
        let end = (pos + cut).min(bytes.len());
        bytes.splice(pos..end, insert.bytes());
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        if let Err(e) = load::load_bytes(path, &bytes) {
            let d = e.diagnostics();
            prop_assert!(all_located(&e), "{:?}", d);
            prop_assert!(d.iter().all(|d| d.line <= lines + 1), "{:?}", d);
        }
    }
}
