//! Requests for the fuzzer: one generator per message type of the three
//! services, built from field generators that favour the extremes (as_of
//! over all of i64 seconds and i32 nanos, cursors, batch sizes, windows,
//! bins, enum values no one defined, names).
//!
//! Everything is drawn from one seeded RNG and from what the server
//! answered before (cursors it gave out, segments it saved), so a seed
//! replays the same requests against the same server.

use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_proto::v1;
use tonic::codec::CompressionEncoding;

use super::dsl::{HARD_MICROS, Json, SegGen, Vocab, mutate_text};
use super::{chance, pick};

/// One request to one RPC.
#[derive(Debug, Clone)]
pub(super) enum Req {
    Validate(v1::ValidateRequest),
    Explain(v1::ExplainRequest),
    Count(v1::CountRequest),
    Members(v1::MembersRequest, Read),
    SaveSegment(v1::SaveSegmentRequest),
    GetSegment(v1::GetSegmentRequest),
    ListSegments(v1::ListSegmentsRequest),
    DeleteSegment(v1::DeleteSegmentRequest),
    Materialize(v1::MaterializeRequest),
    Rfm(v1::RfmRequest),
    ChannelMix(v1::ChannelMixRequest),
    Lifecycle(v1::LifecycleRequest),
    Retention(v1::RetentionRequest),
    Describe(v1::DescribeRequest),
}

/// How much of a Members stream the fuzzer reads before dropping it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Read {
    All,
    Batches(usize),
    /// Drop the stream as soon as the call is answered.
    Nothing,
}

/// A request and how it goes on the wire.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) req: Req,
    /// Compress the request (and accept a compressed answer).
    pub(super) compression: Option<CompressionEncoding>,
}

impl Req {
    pub(super) fn rpc(&self) -> &'static str {
        match self {
            Req::Validate(_) => "Validate",
            Req::Explain(_) => "Explain",
            Req::Count(_) => "Count",
            Req::Members(..) => "Members",
            Req::SaveSegment(_) => "SaveSegment",
            Req::GetSegment(_) => "GetSegment",
            Req::ListSegments(_) => "ListSegments",
            Req::DeleteSegment(_) => "DeleteSegment",
            Req::Materialize(_) => "Materialize",
            Req::Rfm(_) => "Rfm",
            Req::ChannelMix(_) => "ChannelMix",
            Req::Lifecycle(_) => "Lifecycle",
            Req::Retention(_) => "Retention",
            Req::Describe(_) => "Describe",
        }
    }

    /// Encoded size of the message, bytes.
    pub(super) fn encoded_len(&self) -> usize {
        match self {
            Req::Validate(r) => r.encoded_len(),
            Req::Explain(r) => r.encoded_len(),
            Req::Count(r) => r.encoded_len(),
            Req::Members(r, _) => r.encoded_len(),
            Req::SaveSegment(r) => r.encoded_len(),
            Req::GetSegment(r) => r.encoded_len(),
            Req::ListSegments(r) => r.encoded_len(),
            Req::DeleteSegment(r) => r.encoded_len(),
            Req::Materialize(r) => r.encoded_len(),
            Req::Rfm(r) => r.encoded_len(),
            Req::ChannelMix(r) => r.encoded_len(),
            Req::Lifecycle(r) => r.encoded_len(),
            Req::Retention(r) => r.encoded_len(),
            Req::Describe(r) => r.encoded_len(),
        }
    }
}

/// What the fuzzer learns from a successful answer.
#[derive(Debug, Clone)]
pub(super) enum Learned {
    Nothing,
    Cursors(Vec<String>),
    Saved(String),
    Deleted(String),
    Listed(Vec<String>),
}

/// Cursors kept from answers, newest last.
const CURSOR_POOL: usize = 64;
/// Segment names SaveSegment draws from (mostly), so saves overwrite,
/// references resolve and deletes find something.
const NAMES: &[&str] = &[
    "fz_a", "fz_b", "fz_c", "fz_d", "fz-e", "fz_f", "Fz_G", "vip", "x",
];

/// The generator and what it remembers of the server's answers.
#[derive(Debug)]
pub(super) struct Gen {
    rng: StdRng,
    vocab: Vocab,
    /// Saved segments (as far as the fuzzer knows).
    saved: Vec<String>,
    /// `chain0`, `chain1`, …: each references the one or two before it.
    chain: Vec<String>,
    /// Cursors from Members answers.
    cursors: Vec<String>,
}

impl Gen {
    pub(super) fn new(seed: u64, vocab: Vocab) -> Gen {
        Gen {
            rng: StdRng::seed_from_u64(seed),
            vocab,
            saved: Vec::new(),
            chain: Vec::new(),
            cursors: Vec::new(),
        }
    }

    /// A new server (over a fresh copy of the dataset) has none of the
    /// segments saved before.
    pub(super) fn forget_saved(&mut self) {
        self.saved.clear();
        self.chain.clear();
    }

    /// What the run built up, for the report.
    pub(super) fn summary(&self) -> String {
        format!(
            "{} saved segment(s) known at the end, a reference chain of {}, {} cursor(s) kept",
            self.saved.len(),
            self.chain.len(),
            self.cursors.len()
        )
    }

    pub(super) fn learn(&mut self, learned: Learned) {
        match learned {
            Learned::Nothing => {}
            Learned::Cursors(cs) => {
                self.cursors.extend(cs);
                let excess = self.cursors.len().saturating_sub(CURSOR_POOL);
                self.cursors.drain(..excess);
            }
            Learned::Saved(name) => {
                if name == format!("chain{}", self.chain.len()) {
                    self.chain.push(name.clone());
                }
                if !self.saved.contains(&name) {
                    self.saved.push(name);
                }
            }
            Learned::Deleted(name) => self.saved.retain(|n| *n != name),
            Learned::Listed(names) => self.saved = names,
        }
    }

    fn below(&mut self, n: u32) -> u32 {
        self.rng.random_range(0..n)
    }

    fn chance(&mut self, p: f64) -> bool {
        chance(&mut self.rng, p)
    }

    /// The next request: an RPC by weight, its message, its compression.
    pub(super) fn call(&mut self) -> Call {
        let req = match self.below(100) {
            0..=8 => Req::Validate(self.validate()),
            9..=15 => Req::Explain(self.explain()),
            16..=34 => Req::Count(self.count()),
            35..=50 => {
                let (r, read) = self.members();
                Req::Members(r, read)
            }
            51..=59 => Req::SaveSegment(self.save_segment()),
            60..=63 => Req::GetSegment(self.get_segment()),
            64..=65 => Req::ListSegments(v1::ListSegmentsRequest {}),
            66..=68 => Req::DeleteSegment(self.delete_segment()),
            69..=74 => Req::Materialize(self.materialize()),
            75..=80 => Req::Rfm(self.rfm()),
            81..=85 => Req::ChannelMix(self.channel_mix()),
            86..=90 => Req::Lifecycle(self.lifecycle()),
            91..=96 => Req::Retention(self.retention()),
            _ => Req::Describe(v1::DescribeRequest {}),
        };
        // Big requests go compressed half of the time: the size limit must
        // hold for what the message decompresses to.
        let p = if req.encoded_len() > 512 << 10 {
            0.5
        } else {
            0.1
        };
        let compression = self.chance(p).then(|| {
            *pick(
                &mut self.rng,
                &[CompressionEncoding::Gzip, CompressionEncoding::Zstd],
            )
        });
        Call { req, compression }
    }

    // -- one generator per message -----------------------------------------

    fn validate(&mut self) -> v1::ValidateRequest {
        let dsl = match self.below(20) {
            0..=11 => self.segment_text(),
            12..=16 => self.mutated_text(),
            17 => self.garbage(),
            // Over the message limit uncompressed, tiny compressed.
            18 => " ".repeat(*pick(&mut self.rng, &[2 << 20, 16 << 20])) + "consent_email",
            _ => String::new(),
        };
        v1::ValidateRequest { dsl }
    }

    fn explain(&mut self) -> v1::ExplainRequest {
        v1::ExplainRequest {
            segment: self.segment(),
            as_of: self.as_of(),
        }
    }

    fn count(&mut self) -> v1::CountRequest {
        v1::CountRequest {
            segment: self.segment(),
            as_of: self.as_of(),
            no_cache: self.chance(0.3),
        }
    }

    fn members(&mut self) -> (v1::MembersRequest, Read) {
        let cursor = self.cursor();
        // Resuming: as_of left unset, as the API asks, most of the time.
        let as_of = if !cursor.is_empty() && self.chance(0.8) {
            None
        } else {
            self.as_of()
        };
        let req = v1::MembersRequest {
            segment: self.segment(),
            as_of,
            columns: self.columns(),
            cursor,
            limit: self.limit(),
            batch_size: self.batch_size(),
        };
        let read = match self.below(10) {
            0..=4 => Read::All,
            5..=8 => Read::Batches(self.rng.random_range(1..4)),
            _ => Read::Nothing,
        };
        (req, read)
    }

    fn save_segment(&mut self) -> v1::SaveSegmentRequest {
        let (name, dsl) = match self.below(10) {
            0..=3 => self.chain_link(),
            4 => self.cycle(),
            5..=7 => (self.segment_name(), self.segment_text()),
            _ => (self.segment_name(), self.mutated_text()),
        };
        v1::SaveSegmentRequest {
            name,
            dsl,
            create_only: self.chance(0.2),
        }
    }

    fn get_segment(&mut self) -> v1::GetSegmentRequest {
        v1::GetSegmentRequest {
            name: self.saved_name(),
        }
    }

    fn delete_segment(&mut self) -> v1::DeleteSegmentRequest {
        v1::DeleteSegmentRequest {
            name: self.saved_name(),
        }
    }

    fn materialize(&mut self) -> v1::MaterializeRequest {
        v1::MaterializeRequest {
            name: self.saved_name(),
            as_of: self.as_of(),
            columns: self.columns(),
        }
    }

    fn rfm(&mut self) -> v1::RfmRequest {
        v1::RfmRequest {
            segment: self.report_segment(),
            as_of: self.as_of(),
            bins: self.bins(),
            lookback: self.window(),
        }
    }

    fn channel_mix(&mut self) -> v1::ChannelMixRequest {
        v1::ChannelMixRequest {
            segment: self.report_segment(),
            as_of: self.as_of(),
            window: self.window(),
        }
    }

    fn lifecycle(&mut self) -> v1::LifecycleRequest {
        v1::LifecycleRequest {
            segment: self.report_segment(),
            as_of: self.as_of(),
            window: self.window(),
        }
    }

    fn retention(&mut self) -> v1::RetentionRequest {
        v1::RetentionRequest {
            segment: self.report_segment(),
            as_of: self.as_of(),
            period: self.period(),
        }
    }

    // -- saved segments that reference each other ---------------------------

    /// The next link of the chain: `chainN` references `chainN-1` (and,
    /// half of the time, `chainN-2` too, so that inlining doubles at every
    /// link: a naive expansion of `chain40` has 2^40 leaves).
    fn chain_link(&mut self) -> (String, String) {
        let n = self.chain.len();
        let leaf = self.seg_gen().leaf().text();
        let dsl = match n {
            0 => leaf,
            1 => format!("IN SEGMENT chain0 AND NOT ({leaf})"),
            _ if self.chance(0.5) => {
                format!("IN SEGMENT chain{} OR IN SEGMENT chain{}", n - 1, n - 2)
            }
            _ => format!("IN SEGMENT chain{} AND ({leaf})", n - 1),
        };
        (format!("chain{n}"), dsl)
    }

    /// Re-saves an early link of the chain to reference a later one: a
    /// cycle, which must be refused.
    fn cycle(&mut self) -> (String, String) {
        if self.chain.len() < 2 {
            return self.chain_link();
        }
        let from = self.rng.random_range(0..self.chain.len() - 1);
        let to = self.rng.random_range(from + 1..self.chain.len());
        (
            format!("chain{from}"),
            format!("IN SEGMENT chain{to} OR consent_email"),
        )
    }

    // -- segments ------------------------------------------------------------

    fn seg_gen(&mut self) -> SegGen<'_> {
        SegGen::new(&mut self.rng, &self.vocab, &self.saved)
    }

    /// The `segment` field of a query: text, mutated text, JSON (mutated or
    /// not), a saved name; rarely unset.
    fn segment(&mut self) -> Option<v1::Segment> {
        use v1::segment::Source;
        let source = match self.below(40) {
            0 => return None,
            1 => return Some(v1::Segment { source: None }),
            2..=21 => Source::Dsl(self.segment_text()),
            22..=27 => Source::Dsl(self.mutated_text()),
            28..=33 => Source::Json(self.segment_json()),
            _ => Source::Name(self.saved_name()),
        };
        Some(v1::Segment {
            source: Some(source),
        })
    }

    /// Reports run over everyone when the segment is unset: often so.
    fn report_segment(&mut self) -> Option<v1::Segment> {
        if self.chance(0.35) {
            None
        } else {
            self.segment()
        }
    }

    fn segment_text(&mut self) -> String {
        self.seg_gen().segment().text()
    }

    fn mutated_text(&mut self) -> String {
        let text = self.seg_gen().small().text();
        mutate_text(&mut self.rng, &text)
    }

    fn segment_json(&mut self) -> String {
        let expr = self.seg_gen().segment();
        let p = *pick(&mut self.rng, &[0.0, 0.0, 0.0, 0.02, 0.1, 0.3]);
        let json = Json::new(&mut self.rng, p).segment(&expr);
        if self.chance(0.15) {
            mutate_text(&mut self.rng, &json)
        } else {
            json
        }
    }

    /// Arbitrary bytes (as UTF-8, lossily).
    fn garbage(&mut self) -> String {
        let n = *pick(&mut self.rng, &[1, 10, 100, 10_000]);
        let bytes: Vec<u8> = (0..n).map(|_| self.rng.random()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    // -- names ---------------------------------------------------------------

    /// A name for SaveSegment: mostly from a small set (so saves replace
    /// each other), sometimes invalid.
    fn segment_name(&mut self) -> String {
        if self.chance(0.75) {
            return pick(&mut self.rng, NAMES).to_string();
        }
        let long_ok = format!("a{}", "b".repeat(63));
        let too_long = format!("a{}", "b".repeat(64));
        let huge = "a".repeat(100_000);
        pick(
            &mut self.rng,
            &[
                "",
                "../x",
                "../../etc/passwd",
                "a/b",
                "a\\b",
                ".",
                "..",
                "x.seg",
                "名前",
                "ségment",
                "a b",
                "-a",
                "1a",
                "_a",
                "a\u{0}b",
                "CON",
                "segments",
                "\u{202e}x",
                "chain0",
                long_ok.as_str(),
                too_long.as_str(),
                huge.as_str(),
            ],
        )
        .to_string()
    }

    /// A name for Get/Delete/Materialize or a `name` segment: a saved one
    /// mostly.
    fn saved_name(&mut self) -> String {
        if !self.saved.is_empty() && self.chance(0.7) {
            return pick(&mut self.rng, &self.saved).clone();
        }
        if !self.chain.is_empty() && self.chance(0.5) {
            return self.chain.last().cloned().unwrap_or_default();
        }
        self.segment_name()
    }

    // -- fields --------------------------------------------------------------

    fn as_of(&mut self) -> Option<v1::AsOf> {
        let time = match self.below(10) {
            0..=2 => return None,
            3 => None,
            4..=6 => Some(self.near_timestamp()),
            _ => Some(self.extreme_timestamp()),
        };
        Some(v1::AsOf { time })
    }

    /// Within a few years of the dataset's as_of: queries that find data.
    fn near_timestamp(&mut self) -> prost_types::Timestamp {
        let days = self.rng.random_range(-3 * 365..=365);
        prost_types::Timestamp {
            seconds: self.vocab.as_of_secs + days * 86_400 + self.rng.random_range(0..86_400),
            nanos: self.rng.random_range(0..1_000_000_000),
        }
    }

    /// Seconds over all of i64 (years 0, 1, 1899, 1900, 9999, 10000,
    /// 262143 and their edges), nanos over all of i32.
    fn extreme_timestamp(&mut self) -> prost_types::Timestamp {
        let year = *pick(
            &mut self.rng,
            &[
                0, 1, 1899, 1900, 1969, 1970, 9999, 10000, 262143, 262144, -262144,
            ],
        );
        let seconds = match self.below(6) {
            0 => *pick(
                &mut self.rng,
                &[i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1, -1, 0, 1],
            ),
            1 => self.rng.random(),
            2 => year_start(year) - 1,
            _ => year_start(year) + self.rng.random_range(0..86_400 * 366),
        };
        let nanos = match self.below(4) {
            0 => self.rng.random(),
            1 => *pick(
                &mut self.rng,
                &[-1, 1_000_000_000, i32::MIN, i32::MAX, 999_999_999],
            ),
            _ => self.rng.random_range(0..1_000_000_000),
        };
        prost_types::Timestamp { seconds, nanos }
    }

    /// Empty, one the server gave out, well-formed with extreme numbers, or
    /// malformed.
    fn cursor(&mut self) -> String {
        match self.below(20) {
            0..=7 => String::new(),
            8..=12 if !self.cursors.is_empty() => pick(&mut self.rng, &self.cursors).clone(),
            8..=15 => {
                let as_of = self.cursor_micros();
                let after = *pick(
                    &mut self.rng,
                    &[i64::MIN, i64::MAX, -1, 0, 1, 1500, 2999, 3000, 3001],
                );
                format!("m1.{as_of}.{after}")
            }
            _ => {
                let huge = "m1.".repeat(300_000);
                pick(
                    &mut self.rng,
                    &[
                        "m1",
                        "m1.",
                        "m1..",
                        "m1.1.2.3",
                        "m2.1.2",
                        "M1.1.2",
                        "m1.+1.2",
                        "m1. 1.2",
                        "m1.1.-0",
                        "m1.99999999999999999999.1",
                        "m1.1.99999999999999999999",
                        "m1.1e3.2",
                        "m1.0x10.2",
                        "m1.١.٢",
                        "garbage",
                        "😀",
                        "\u{0}",
                        huge.as_str(),
                    ],
                )
                .to_string()
            }
        }
    }

    fn cursor_micros(&mut self) -> i64 {
        let near = self.vocab.as_of_secs * 1_000_000;
        match self.below(3) {
            0 => near,
            1 => self.rng.random(),
            _ => *pick(&mut self.rng, HARD_MICROS),
        }
    }

    fn batch_size(&mut self) -> u32 {
        match self.below(3) {
            0 => 0,
            1 => self.rng.random_range(1..5000),
            _ => *pick(
                &mut self.rng,
                &[1, 2, 7, 65_536, 1 << 20, (1 << 20) + 1, u32::MAX],
            ),
        }
    }

    fn limit(&mut self) -> u64 {
        match self.below(3) {
            0 => 0,
            1 => self.rng.random_range(1..4000),
            _ => *pick(
                &mut self.rng,
                &[
                    1,
                    2999,
                    3000,
                    3001,
                    u64::MAX,
                    i64::MAX as u64,
                    i64::MAX as u64 + 1,
                ],
            ),
        }
    }

    /// Profile columns: none, valid ones, duplicates, unknown names,
    /// empty strings, profile_id, or very many.
    fn columns(&mut self) -> Vec<String> {
        let all = self.vocab.column_names();
        let some = |rng: &mut StdRng, n: usize| -> Vec<String> {
            (0..n).map(|_| pick(rng, &all).clone()).collect()
        };
        match self.below(10) {
            0..=3 => Vec::new(),
            4..=6 => {
                let n = self.rng.random_range(1..5);
                some(&mut self.rng, n)
            }
            7 => {
                let mut cols = some(&mut self.rng, 2);
                cols.push(cols[0].clone());
                cols
            }
            8 => {
                let odd = *pick(
                    &mut self.rng,
                    &[
                        "",
                        "profile_id",
                        "emial",
                        "PROFILE_ID",
                        "名前",
                        "a,b",
                        "*",
                        "event_time",
                    ],
                );
                let mut cols = some(&mut self.rng, 1);
                cols.push(odd.to_string());
                cols
            }
            _ => match self.below(3) {
                0 => all.iter().cycle().take(all.len() * 50).cloned().collect(),
                1 => (0..10_000).map(|i| format!("c{i}")).collect(),
                _ => vec![String::new(); 200_000],
            },
        }
    }

    /// A window / lookback string for the reports.
    fn window(&mut self) -> String {
        pick(
            &mut self.rng,
            &[
                "",
                "",
                "",
                "90d",
                "30d",
                "365d",
                "12m",
                "1y",
                "48h",
                "2w",
                "0d",
                "1h",
                "4294967295d",
                "4294967296d",
                "99999999y",
                "100y",
                "101y",
                "36500d",
                "36525d",
                "-5d",
                "5",
                "d",
                "5x",
                " 30d ",
                "30 d",
                "３０d",
                "30dd",
                "+30d",
                "030d",
                "1e3d",
                "😀",
                "9999999999999999999999d",
                "0x10d",
                "١٢d",
            ],
        )
        .to_string()
    }

    fn bins(&mut self) -> u32 {
        *pick(
            &mut self.rng,
            &[0, 0, 0, 1, 2, 4, 5, 10, 100, 101, 1000, u32::MAX],
        )
    }

    /// Retention periods: the three the enum has, and ints it does not.
    fn period(&mut self) -> i32 {
        match self.below(5) {
            0..=2 => self.rng.random_range(0..3),
            3 => *pick(&mut self.rng, &[3, -1, i32::MAX, i32::MIN]),
            _ => self.rng.random(),
        }
    }
}

/// Seconds since the epoch of January 1 of `year` (proleptic Gregorian;
/// `year_start(1970) == 0`, `year_start(1) == -62_135_596_800`).
fn year_start(year: i64) -> i64 {
    // Days from civil (Howard Hinnant), for March-based years.
    let y = year - 1;
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = 306; // January 1 is day 306 of the March-based year before
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400
}
