//! Parse + type-check of a realistic 20-condition segment against the demo
//! store schema. Run: `cargo bench -p strata-dsl --bench parse`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use strata_dsl::StaticCatalog;

const SEGMENT: &str = "
# lapsed omnichannel VIPs who accept email, in the EU, with recent interest
rfm.segment IN ('champions', 'loyal', 'cannot_lose')
  AND rfm(bins = 5, lookback = 365d).m >= 4
  AND channel_mix = 'omnichannel'
  AND lifecycle(window = 90d) IN ('dormant', 'lost')
  AND consent_email
  AND email IS NOT NULL
  AND country IN ('DE', 'FR', 'NL', 'BE', 'AT', 'IT', 'ES')
  AND NOT city = 'Paris'
  AND signup_at < -180d
  AND birth_date BETWEEN 1960-01-01 AND 2004-12-31
  AND interests CONTAINS 'running'
  AND loyalty_tier != 'basic'
  AND count(purchase WHERE channel = 'web' AND amount >= 200 WITHIN 180d) >= 2
  AND sum(purchase.amount WHERE currency = 'EUR' WITHIN 365d) > 1000.0
  AND avg(purchase.amount WITHIN 365d) >= 80
  AND last(purchase) < -60d
  AND NOT performed(purchase WITHIN 60d)
  AND (performed(email_open WITHIN 14d) OR performed(push_open WITHIN 14d))
  AND count(product_view WHERE category STARTS WITH 'shoe' SINCE 2024-01-01) >= 3
  AND anniversary(birth_date) WITHIN NEXT 14d
";

fn bench(c: &mut Criterion) {
    let catalog = StaticCatalog::demo();
    assert!(strata_dsl::parse_and_check(SEGMENT, &catalog).is_ok());
    c.bench_function("parse_and_check_20_conditions", |b| {
        b.iter(|| strata_dsl::parse_and_check(black_box(SEGMENT), &catalog))
    });
    c.bench_function("parse_20_conditions", |b| {
        b.iter(|| strata_dsl::parse(black_box(SEGMENT)))
    });
    let seg = strata_dsl::parse(SEGMENT).expect("valid");
    c.bench_function("format_20_conditions", |b| {
        b.iter(|| strata_dsl::format(black_box(&seg)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
