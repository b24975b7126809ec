//! Column builders turning generated rows into Arrow record batches, and the
//! per-chunk writer that streams them into one Parquet file per month.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Array, Int64Builder,
    ListBuilder, StringBuilder, TimestampMicrosecondArray, TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::file::properties::WriterProperties;

use super::profile::{Ev, NO_AMOUNT, NO_CATEGORY, NO_PRODUCT, ProfileRow};
use super::world::{CATEGORIES, ONLINE_PAYMENTS, POS_PAYMENTS, World};
use crate::error::{Error, Result};
use crate::layout::{part_file_name, partition_dir_name};
use crate::parquet_io::{AtomicParquetWriter, FileStats};
use crate::schema::{AMOUNT_PRECISION, AMOUNT_SCALE, CHANNELS, EVENT_TYPES};

/// Rows buffered before a batch goes to the Parquet writer.
pub(super) const BATCH_ROWS: usize = 8192;

pub(super) struct EventColumns {
    profile_id: Vec<i64>,
    time: Vec<i64>,
    event_type: StringBuilder,
    channel: StringBuilder,
    amount: Decimal128Builder,
    currency: StringBuilder,
    order_id: StringBuilder,
    product_id: StringBuilder,
    category: StringBuilder,
    quantity: Int64Builder,
    payment_method: StringBuilder,
    campaign_id: StringBuilder,
    scratch: String,
}

impl EventColumns {
    pub(super) fn new() -> Self {
        let n = BATCH_ROWS;
        EventColumns {
            profile_id: Vec::with_capacity(n),
            time: Vec::with_capacity(n),
            event_type: StringBuilder::with_capacity(n, n * 12),
            channel: StringBuilder::with_capacity(n, n * 4),
            amount: Decimal128Builder::with_capacity(n)
                .with_precision_and_scale(AMOUNT_PRECISION, AMOUNT_SCALE)
                .expect("valid decimal type"),
            currency: StringBuilder::with_capacity(n, n),
            order_id: StringBuilder::with_capacity(n, n),
            product_id: StringBuilder::with_capacity(n, n * 6),
            category: StringBuilder::with_capacity(n, n * 6),
            quantity: Int64Builder::with_capacity(n),
            payment_method: StringBuilder::with_capacity(n, n),
            campaign_id: StringBuilder::with_capacity(n, n),
            scratch: String::with_capacity(32),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.profile_id.len()
    }

    pub(super) fn push(&mut self, world: &World, profile_id: i64, ev: &Ev) {
        self.profile_id.push(profile_id);
        self.time.push(ev.t);
        self.event_type.append_value(EVENT_TYPES[ev.kind as usize]);
        self.channel.append_value(CHANNELS[ev.channel as usize]);
        if ev.amount == NO_AMOUNT {
            self.amount.append_null();
            self.currency.append_null();
        } else {
            self.amount.append_value(ev.amount as i128);
            self.currency.append_value("USD");
        }
        if ev.order == 0 {
            self.order_id.append_null();
        } else {
            self.scratch.clear();
            let _ = write!(self.scratch, "O{profile_id:08}-{:03}", ev.order);
            self.order_id.append_value(&self.scratch);
        }
        if ev.product == NO_PRODUCT {
            self.product_id.append_null();
            if ev.category == NO_CATEGORY {
                self.category.append_null();
            } else {
                self.category
                    .append_value(CATEGORIES[ev.category as usize].0);
            }
        } else {
            let (c, r) = ((ev.product >> 16) as usize, (ev.product & 0xFFFF) as usize);
            self.product_id.append_value(&world.product_ids[c][r]);
            self.category.append_value(CATEGORIES[c].0);
        }
        if ev.qty == 0 {
            self.quantity.append_null();
        } else {
            self.quantity.append_value(ev.qty as i64);
        }
        match ev.pay {
            0 => self.payment_method.append_null(),
            p if p > 100 => self
                .payment_method
                .append_value(POS_PAYMENTS[(p - 101) as usize].0),
            p => self
                .payment_method
                .append_value(ONLINE_PAYMENTS[(p - 1) as usize].0),
        }
        if ev.campaign == 0 {
            self.campaign_id.append_null();
        } else {
            self.campaign_id
                .append_value(&world.campaign_ids[(ev.campaign - 1) as usize]);
        }
    }

    pub(super) fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(std::mem::take(&mut self.profile_id))),
            Arc::new(
                TimestampMicrosecondArray::from(std::mem::take(&mut self.time))
                    .with_timezone("UTC"),
            ),
            Arc::new(self.event_type.finish()),
            Arc::new(self.channel.finish()),
            Arc::new(self.amount.finish()),
            Arc::new(self.currency.finish()),
            Arc::new(self.order_id.finish()),
            Arc::new(self.product_id.finish()),
            Arc::new(self.category.finish()),
            Arc::new(self.quantity.finish()),
            Arc::new(self.payment_method.finish()),
            Arc::new(self.campaign_id.finish()),
        ];
        self.profile_id.reserve(BATCH_ROWS);
        self.time.reserve(BATCH_ROWS);
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

pub(super) struct ProfileColumns {
    profile_id: Vec<i64>,
    external_id: StringBuilder,
    email: StringBuilder,
    first_name: StringBuilder,
    last_name: StringBuilder,
    gender: StringBuilder,
    birth_date: Date32Builder,
    language: StringBuilder,
    timezone: StringBuilder,
    country: StringBuilder,
    region: StringBuilder,
    city: StringBuilder,
    signup_at: TimestampMicrosecondBuilder,
    app_version: StringBuilder,
    loyalty_tier: StringBuilder,
    consent_email: BooleanBuilder,
    consent_push: BooleanBuilder,
    consent_sms: BooleanBuilder,
    favorite_color: StringBuilder,
    interests: ListBuilder<StringBuilder>,
    purchase_intent: StringBuilder,
}

impl ProfileColumns {
    pub(super) fn new() -> Self {
        ProfileColumns {
            profile_id: Vec::with_capacity(BATCH_ROWS),
            external_id: StringBuilder::new(),
            email: StringBuilder::new(),
            first_name: StringBuilder::new(),
            last_name: StringBuilder::new(),
            gender: StringBuilder::new(),
            birth_date: Date32Builder::new(),
            language: StringBuilder::new(),
            timezone: StringBuilder::new(),
            country: StringBuilder::new(),
            region: StringBuilder::new(),
            city: StringBuilder::new(),
            signup_at: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            app_version: StringBuilder::new(),
            loyalty_tier: StringBuilder::new(),
            consent_email: BooleanBuilder::new(),
            consent_push: BooleanBuilder::new(),
            consent_sms: BooleanBuilder::new(),
            favorite_color: StringBuilder::new(),
            interests: ListBuilder::new(StringBuilder::new()),
            purchase_intent: StringBuilder::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.profile_id.len()
    }

    pub(super) fn push(&mut self, id: i64, p: &ProfileRow) {
        self.profile_id.push(id);
        self.external_id.append_value(&p.external_id);
        self.email.append_option(p.email.as_deref());
        self.first_name.append_option(p.first_name);
        self.last_name.append_option(p.last_name);
        self.gender.append_option(p.gender);
        self.birth_date.append_option(p.birth_date);
        self.language.append_option(p.language);
        self.timezone.append_option(p.timezone);
        self.country.append_option(p.country);
        self.region.append_option(p.region);
        self.city.append_option(p.city);
        self.signup_at.append_value(p.signup_at);
        self.app_version.append_option(p.app_version.as_deref());
        self.loyalty_tier.append_option(p.loyalty_tier);
        self.consent_email.append_option(p.consent_email);
        self.consent_push.append_option(p.consent_push);
        self.consent_sms.append_option(p.consent_sms);
        self.favorite_color.append_option(p.favorite_color);
        match &p.interests {
            Some(items) => {
                for item in items {
                    self.interests.values().append_value(item);
                }
                self.interests.append(true);
            }
            None => self.interests.append(false),
        }
        self.purchase_intent.append_option(p.purchase_intent);
    }

    pub(super) fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(std::mem::take(&mut self.profile_id))),
            Arc::new(self.external_id.finish()),
            Arc::new(self.email.finish()),
            Arc::new(self.first_name.finish()),
            Arc::new(self.last_name.finish()),
            Arc::new(self.gender.finish()),
            Arc::new(self.birth_date.finish()),
            Arc::new(self.language.finish()),
            Arc::new(self.timezone.finish()),
            Arc::new(self.country.finish()),
            Arc::new(self.region.finish()),
            Arc::new(self.city.finish()),
            Arc::new(self.signup_at.finish()),
            Arc::new(self.app_version.finish()),
            Arc::new(self.loyalty_tier.finish()),
            Arc::new(self.consent_email.finish()),
            Arc::new(self.consent_push.finish()),
            Arc::new(self.consent_sms.finish()),
            Arc::new(self.favorite_color.finish()),
            Arc::new(self.interests.finish()),
            Arc::new(self.purchase_intent.finish()),
        ];
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// One month's open file of a chunk.
struct MonthFile {
    columns: EventColumns,
    writer: AtomicParquetWriter,
}

/// Streams one chunk's events into `events/event_month=*/part-<chunk>.parquet`
/// (files are created on first use).
pub(super) struct ChunkEventWriter<'a> {
    world: &'a World,
    root: &'a Path,
    chunk: usize,
    schema: SchemaRef,
    props: WriterProperties,
    months: Vec<Option<MonthFile>>,
}

impl<'a> ChunkEventWriter<'a> {
    pub(super) fn new(
        world: &'a World,
        root: &'a Path,
        chunk: usize,
        schema: SchemaRef,
        props: WriterProperties,
    ) -> Self {
        ChunkEventWriter {
            world,
            root,
            chunk,
            schema,
            props,
            months: (0..world.month_starts.len()).map(|_| None).collect(),
        }
    }

    pub(super) fn push(&mut self, month: usize, profile_id: i64, ev: &Ev) -> Result<()> {
        let slot = &mut self.months[month];
        let file = match slot {
            Some(f) => f,
            None => {
                let (y, m) = self.world.months[month];
                let dir = self.root.join(partition_dir_name(y, m));
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let path = dir.join(part_file_name(self.chunk));
                let writer =
                    AtomicParquetWriter::create(&path, self.schema.clone(), self.props.clone())?;
                slot.insert(MonthFile {
                    columns: EventColumns::new(),
                    writer,
                })
            }
        };
        file.columns.push(self.world, profile_id, ev);
        if file.columns.len() >= BATCH_ROWS {
            let batch = file.columns.finish(&self.schema)?;
            file.writer.write(&batch)?;
        }
        Ok(())
    }

    /// Flushes and closes every file; returns (files, rows, bytes).
    pub(super) fn finish(self) -> Result<Vec<FileStats>> {
        let mut stats = Vec::new();
        for mut file in self.months.into_iter().flatten() {
            if file.columns.len() > 0 {
                let batch = file.columns.finish(&self.schema)?;
                file.writer.write(&batch)?;
            }
            stats.push(file.writer.finish()?);
        }
        Ok(stats)
    }
}
