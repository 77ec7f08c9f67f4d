//! Host side of `shaders/tail.wgsl`: each account's largest losses of a chunk by radix select,
//! read back alone and merged into the running tails.
//!
//! Accounts are processed in batches whose selected entries fit one binding; the stage's
//! buffers and its three bind groups are made once, for every batch and chunk.

use std::time::Instant;

use crate::engine::TailEntry;
use crate::error::{Error, Result};
use crate::model::tail::TailBuffer;

use super::super::buffers::{
    bind, bind_at, dispatch, groups, mappable, read_back, read_mapped, storage, uniform,
};
use super::super::constants::{TAIL_BINS, TAIL_PASSES, TAIL_TILE, WG_TAIL, WG_TAIL_SELECT};
use super::super::context::GpuContext;
use super::super::types::{TailParams, TailState, loss_key};

/// Bytes of one account's select state.
const STATE_BYTES: u64 = size_of::<TailState>() as u64;
/// Largest entry buffer an overlapped run copies back whole with every selection (the
/// sequential run reads only the rows that gathered anything).
const MAX_OVERLAP_ENTRY_BYTES: u64 = 16 << 20;

/// The stage's entry points (compiled once per device).
#[derive(Debug)]
pub struct Pipelines {
    pub histogram: wgpu::ComputePipeline,
    pub select: wgpu::ComputePipeline,
    pub gather: wgpu::ComputePipeline,
    /// The loss histogram ([`super::distribution`]).
    pub distribution: wgpu::ComputePipeline,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Result<Self> {
        let module = super::compile(device, "tail")?;
        Ok(Self {
            histogram: super::pipeline(device, &module, "histogram"),
            select: super::pipeline(device, &module, "select_digit"),
            gather: super::pipeline(device, &module, "gather"),
            distribution: super::pipeline(device, &module, "distribution"),
        })
    }
}

/// The tail stage over one loss buffer (account-major, `loss[account * count + i]`).
pub struct TailStage {
    pub tail_len: u32,
    pub accounts: u32,
    /// Accounts per batch.
    pub batch: u32,
    params: wgpu::Buffer,
    state: wgpu::Buffer,
    hist: wgpu::Buffer,
    gathered: wgpu::Buffer,
    out: wgpu::Buffer,
    /// The loss buffer the stage selects from.
    loss: wgpu::Buffer,
    hist_group: wgpu::BindGroup,
    select_group: wgpu::BindGroup,
    gather_group: wgpu::BindGroup,
}

impl TailStage {
    /// The stage for `accounts` rows of `loss` and tails of `tail_len`.
    pub fn new(
        ctx: &GpuContext,
        accounts: u32,
        tail_len: u32,
        loss: &wgpu::Buffer,
    ) -> Result<Self> {
        let entry_bytes = 8 * u64::from(tail_len.max(1));
        let max = ctx.max_binding_bytes();
        if entry_bytes > max {
            return Err(Error::Gpu(format!(
                "a tail of {tail_len} losses ({entry_bytes} bytes) exceeds the adapter's \
                 largest binding ({max} bytes)"
            )));
        }
        let batch = (max / entry_bytes)
            .min(u64::from(accounts.max(1)))
            .min(1 << 16);
        let batch = batch.max(1) as u32;
        let params = uniform(ctx, "tail params", &TailParams::default());
        let state = storage(ctx, "tail state", STATE_BYTES * u64::from(batch));
        let hist = storage(ctx, "tail histogram", 4 * u64::from(TAIL_BINS * batch));
        let gathered = storage(ctx, "tail gathered", 4 * u64::from(batch));
        let out = storage(ctx, "tail entries", entry_bytes * u64::from(batch));
        let p = &ctx.pipelines.tail;
        let hist_group = bind(ctx, &p.histogram, &[&params, loss, &state, &hist]);
        let select_group = bind_at(ctx, &p.select, &[(0, &params), (2, &state), (3, &hist)]);
        let gather_group = bind_at(
            ctx,
            &p.gather,
            &[
                (0, &params),
                (1, loss),
                (2, &state),
                (4, &gathered),
                (5, &out),
            ],
        );
        Ok(Self {
            tail_len,
            accounts,
            batch,
            params,
            state,
            hist,
            gathered,
            out,
            loss: loss.clone(),
            hist_group,
            select_group,
            gather_group,
        })
    }

    /// Whether [`Self::run_overlapped`] applies: every account in one batch, and the batch's
    /// entry slots within `MAX_OVERLAP_ENTRY_BYTES`.
    pub fn can_overlap(&self) -> bool {
        self.accounts <= self.batch
            && 8 * u64::from(self.tail_len.max(1)) * u64::from(self.batch)
                <= MAX_OVERLAP_ENTRY_BYTES
    }

    /// The mappable buffers of [`Self::run_overlapped`], made once per run.
    pub fn staging(&self, ctx: &GpuContext) -> TailStaging {
        TailStaging {
            gathered: mappable(ctx, "tail gathered (readback)", 4 * u64::from(self.batch)),
            out: mappable(ctx, "tail entries (readback)", self.out.size()),
        }
    }

    /// [`Self::run`] for a stage that [`Self::can_overlap`], double-buffered: one submission
    /// copies the chunk's losses from `losses` (the buffer the next chunk's aggregate writes)
    /// into this stage's own loss buffer, selects, gathers and copies the gathered counts and
    /// every entry slot into `staging`; then `next` is called (it submits the next chunk's
    /// scenario, revalue and aggregate) and the host waits for this submission alone, so the
    /// device computes the next chunk while the host reads this one's tail back and merges
    /// it. The same selection as [`Self::run`], so the same tails bit for bit.
    #[allow(clippy::too_many_arguments)]
    pub fn run_overlapped(
        &self,
        ctx: &GpuContext,
        staging: &TailStaging,
        losses: &wgpu::Buffer,
        path_base: u32,
        count: u32,
        tails: &mut [TailBuffer],
        next: impl FnOnce() -> Result<()>,
    ) -> Result<f64> {
        crate::engine::gpu::failpoint::hit("tail")?;
        let take = self.tail_len.min(count);
        let params = TailParams {
            path_count: count,
            account_base: 0,
            accounts: self.accounts,
            tail_len: take,
            path_base,
            tiles: count.div_ceil(TAIL_TILE).max(1),
            _pad: [0; 2],
        };
        self.write_batch(ctx, &params, tails);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        let loss_bytes = 4 * u64::from(self.accounts) * u64::from(count);
        encoder.copy_buffer_to_buffer(losses, 0, &self.loss, 0, loss_bytes);
        self.encode_batch(ctx, &mut encoder, &params)?;
        let gathered_bytes = 4 * u64::from(self.accounts);
        let entry_bytes = 8 * u64::from(take) * u64::from(self.accounts);
        encoder.copy_buffer_to_buffer(&self.gathered, 0, &staging.gathered, 0, gathered_bytes);
        if entry_bytes > 0 {
            encoder.copy_buffer_to_buffer(&self.out, 0, &staging.out, 0, entry_bytes);
        }
        let index = ctx.queue.submit([encoder.finish()]);
        next()?;
        let copy = Instant::now();
        let mut read: Vec<Vec<u32>> = read_mapped(
            ctx,
            index,
            &[
                (&staging.gathered, gathered_bytes),
                (&staging.out, entry_bytes),
            ],
        )?;
        let seconds = copy.elapsed().as_secs_f64();
        let entries: Vec<[u32; 2]> = bytemuck::cast_slice(&read.pop().unwrap_or_default()).to_vec();
        let gathered = read.pop().unwrap_or_default();
        merge(&params, &gathered, &entries, tails)?;
        Ok(seconds)
    }

    /// Runs the stage on the `count` losses of every account (paths `path_base ..`) and
    /// merges each account's chunk tail into `tails` (one per account). Returns the seconds
    /// spent copying the selected entries back (the first readback, of the gathered counts,
    /// also waits for the selection itself, so it counts as tail time).
    pub fn run(
        &self,
        ctx: &GpuContext,
        path_base: u32,
        count: u32,
        tails: &mut [TailBuffer],
    ) -> Result<f64> {
        crate::engine::gpu::failpoint::hit("tail")?;
        let mut readback_seconds = 0.0;
        let take = self.tail_len.min(count);
        let tiles = count.div_ceil(TAIL_TILE).max(1);
        let mut account_base = 0;
        while account_base < self.accounts {
            let accounts = self.batch.min(self.accounts - account_base);
            let batch = &mut tails[account_base as usize..(account_base + accounts) as usize];
            let params = TailParams {
                path_count: count,
                account_base,
                accounts,
                tail_len: take,
                path_base,
                tiles,
                _pad: [0; 2],
            };
            self.write_batch(ctx, &params, batch);
            self.submit_batch(ctx, &params)?;
            readback_seconds += self.collect_batch(ctx, &params, batch)?;
            account_base += accounts;
        }
        Ok(readback_seconds)
    }

    /// The batch's parameters and each account's initial select state.
    fn write_batch(&self, ctx: &GpuContext, params: &TailParams, batch: &mut [TailBuffer]) {
        ctx.queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(params));
        let take = params.tail_len;
        let init: Vec<TailState> = batch
            .iter_mut()
            .map(|t| match min_loss_key(t) {
                Some(min_loss_key) if take > 0 => TailState {
                    remaining: take,
                    min_loss_key,
                    ..Default::default()
                },
                _ => TailState {
                    done: 1,
                    empty: 1,
                    ..Default::default()
                },
            })
            .collect();
        ctx.queue
            .write_buffer(&self.state, 0, bytemuck::cast_slice(&init));
    }

    /// The radix-select passes and the gather of one batch, in one submission.
    fn submit_batch(&self, ctx: &GpuContext, params: &TailParams) -> Result<()> {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        self.encode_batch(ctx, &mut encoder, params)?;
        ctx.queue.submit([encoder.finish()]);
        Ok(())
    }

    /// Encodes the radix-select passes and the gather of one batch.
    fn encode_batch(
        &self,
        ctx: &GpuContext,
        encoder: &mut wgpu::CommandEncoder,
        params: &TailParams,
    ) -> Result<()> {
        let (accounts, tiles) = (u64::from(params.accounts), u64::from(params.tiles));
        let p = &ctx.pipelines.tail;
        encoder.clear_buffer(&self.hist, 0, None);
        encoder.clear_buffer(&self.gathered, 0, None);
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for _ in 0..TAIL_PASSES {
                pass.set_pipeline(&p.histogram);
                pass.set_bind_group(0, &self.hist_group, &[]);
                dispatch(ctx, &mut pass, accounts * tiles)?;
                pass.set_pipeline(&p.select);
                pass.set_bind_group(0, &self.select_group, &[]);
                dispatch(ctx, &mut pass, groups(accounts, WG_TAIL_SELECT))?;
            }
            pass.set_pipeline(&p.gather);
            pass.set_bind_group(0, &self.gather_group, &[]);
            let keys = accounts * u64::from(params.path_count);
            dispatch(ctx, &mut pass, groups(keys, WG_TAIL))?;
        }
        Ok(())
    }

    /// Reads the batch's selected entries back into its running tails; returns the seconds of
    /// the entries' copy.
    fn collect_batch(
        &self,
        ctx: &GpuContext,
        params: &TailParams,
        batch: &mut [TailBuffer],
    ) -> Result<f64> {
        let take = params.tail_len;
        let gathered: Vec<u32> = read_back(ctx, &self.gathered, 4 * u64::from(params.accounts))?;
        // Only as far as the last account that gathered anything.
        let rows = gathered.iter().rposition(|&g| g > 0).map_or(0, |a| a + 1) as u64;
        let copy = Instant::now();
        let entries: Vec<[u32; 2]> = read_back(ctx, &self.out, 8 * u64::from(take) * rows)?;
        let seconds = copy.elapsed().as_secs_f64();
        merge(params, &gathered, &entries, batch)?;
        Ok(seconds)
    }
}

/// The mappable copies of a batch's gathered counts and entry slots
/// ([`TailStage::run_overlapped`]).
pub struct TailStaging {
    gathered: wgpu::Buffer,
    out: wgpu::Buffer,
}

/// Merges a batch's selected entries (`take` slots per account, the first `gathered[a]` of
/// account a's filled) into its running tails.
fn merge(
    params: &TailParams,
    gathered: &[u32],
    entries: &[[u32; 2]],
    batch: &mut [TailBuffer],
) -> Result<()> {
    let take = params.tail_len;
    for (a, (&got, running)) in gathered.iter().zip(batch.iter_mut()).enumerate() {
        if got > take {
            return Err(Error::Gpu(format!(
                "tail selection gathered {got} losses for a tail of {take} (account {})",
                params.account_base as usize + a
            )));
        }
        if got == 0 {
            continue; // past the rows read back
        }
        let start = a * take as usize;
        for &[bits, path] in &entries[start..start + got as usize] {
            running.push(TailEntry {
                loss: f64::from(f32::from_bits(bits)),
                path,
            });
        }
    }
    Ok(())
}

/// The eligibility bound of the next chunk's keys (`TailState::min_loss_key`): once the
/// running tail is full, only a strictly larger loss can enter, since later chunks hold higher
/// path indices and lose ties. `None`: nothing can enter.
fn min_loss_key(running: &mut TailBuffer) -> Option<u32> {
    match running.floor() {
        None => Some(0),
        Some(worst) => loss_key(worst.loss as f32).checked_add(1),
    }
}
