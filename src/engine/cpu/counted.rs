//! The tail passes that the [`super::Backend`] calls share: the Monte Carlo pass of either
//! precision and the pass over a table's rows, their tail buffers unfinished (so that
//! `counted_tails` can take each buffer's histogram as well as its tail).

use super::timing::StageTimes;
use super::{
    BLOCK_PATHS, BlockBuffers, CpuBackend, Precision, Scenarios, chunked_tails, fast_tails,
    reference_tails, simulate_block,
};
use crate::book::Book;
use crate::engine::SimulationPlan;
use crate::model::historical::ScenarioTable;
use crate::model::revalue::RevalueModel;
use crate::model::tail::TailBuffer;

impl CpuBackend {
    /// The Monte Carlo tail pass of this backend's precision, its buffers unfinished
    /// (`counting`: with histograms).
    pub(super) fn monte_carlo_tails(
        &self,
        book: &Book,
        plan: &SimulationPlan,
        counting: bool,
        progress: &(dyn Fn(u64) + Sync),
    ) -> (Vec<TailBuffer>, StageTimes) {
        match self.precision {
            Precision::F64Reference => reference_tails(book, plan, counting, progress),
            Precision::F64 => fast_tails::<f64>(book, plan, self.isa, counting, progress),
            Precision::F32 => fast_tails::<f32>(book, plan, self.isa, counting, progress),
        }
    }
}

/// The tail pass over the rows of a table on the f64 reference, its buffers unfinished.
pub(super) fn table_buffers(
    book: &Book,
    table: &ScenarioTable,
    tail_len: usize,
    chunk_paths: Option<u32>,
    counting: bool,
) -> Vec<TailBuffer> {
    // The run layer makes the table from the book's own assets.
    assert_eq!(
        table.assets(),
        book.assets.len(),
        "a table for another book"
    );
    let plan = SimulationPlan {
        paths: table.len() as u64,
        first_path: 0,
        seed: 0,
        tail_len,
        chunk_paths,
    };
    let revalue = RevalueModel::new(book);
    chunked_tails(
        book,
        &plan,
        BLOCK_PATHS,
        counting,
        &|_| {},
        || BlockBuffers::new(book),
        |range, buffers, tails, times| {
            let states = Scenarios::Table(table);
            simulate_block(book, &states, &revalue, range, buffers, tails, times)
        },
    )
    .0
}
