//! Stage timing of the CPU backend (the stage seconds [`crate::engine::Backend::run_tails`]
//! returns, for the `bench` command). Each worker reads the monotonic clock at the stage boundaries of every block
//! (scenario, revalue, then aggregate and tail per batch of accounts): a handful of reads of
//! ~20 ns per block of 256 paths, under 0.1% of a block of the 576-option book. Workers'
//! times are added, so the stages of a two-thread run sum to about twice its wall time; the
//! time between blocks (scheduling, progress) is charged to no stage.

use std::time::{Duration, Instant};

use crate::engine::StageSeconds;

/// Time one worker (or, once merged, every worker) spent in each stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageTimes {
    pub scenario: Duration,
    pub revalue: Duration,
    pub aggregate: Duration,
    pub tail: Duration,
}

impl StageTimes {
    /// The sum of two workers' times.
    pub fn merged(self, other: StageTimes) -> StageTimes {
        StageTimes {
            scenario: self.scenario + other.scenario,
            revalue: self.revalue + other.revalue,
            aggregate: self.aggregate + other.aggregate,
            tail: self.tail + other.tail,
        }
    }

    /// In seconds; `transfer` is zero on the CPU.
    pub fn seconds(&self) -> StageSeconds {
        StageSeconds {
            scenario: self.scenario.as_secs_f64(),
            revalue: self.revalue.as_secs_f64(),
            aggregate: self.aggregate.as_secs_f64(),
            tail: self.tail.as_secs_f64(),
            transfer: 0.0,
        }
    }
}

/// A stopwatch that charges the time since its previous lap to a stage.
#[derive(Clone, Copy, Debug)]
pub struct Laps {
    last: Instant,
}

impl Laps {
    pub fn start() -> Self {
        Self {
            last: Instant::now(),
        }
    }

    /// Adds the time since the previous lap (or the start) to `stage`.
    #[inline]
    pub fn lap(&mut self, stage: &mut Duration) {
        let now = Instant::now();
        *stage += now - self.last;
        self.last = now;
    }
}
