//! The submit → spawned → finish surface the workload drives, and baton-core behind it.

use baton_core::sync::StdSync;
use baton_core::{Config, Core, Item, Millis, Outcome, TicketOf};

/// What a runner does with a scheduler, reduced to the three calls of a run.
pub trait Scheduler: Sync {
    type Ticket: Send;

    /// Hands back a ticket when the item may start at once.
    fn submit(&self, item: Item) -> Option<Self::Ticket>;
    fn spawned(&self, ticket: &Self::Ticket);
    /// Hands back the tickets that start in the freed capacity.
    fn finish(&self, ticket: Self::Ticket) -> Vec<Self::Ticket>;
    /// Runs in flight and items queued, for the end-of-run accounting.
    fn counts(&self) -> Counts;
    /// The pre-fill is done; what it left behind is set-up, not measured work.
    fn settle(&self) {}
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub in_flight: u64,
    pub queued: u64,
}

/// baton-core as the bot embeds it: `Core<StdSync>` behind a shared reference.
pub struct CoreScheduler {
    core: Core<StdSync>,
    journal: bool,
}

impl CoreScheduler {
    pub fn new(capacity: usize, journal: bool) -> Self {
        let config = Config {
            capacity,
            // Queues only grow by what the workload submits; the bound is not
            // what this bench measures.
            max_queue: usize::MAX,
            journal,
            ..Config::default()
        };
        // A fixed clock keeps the embedder's clock read out of the figure.
        let clock = || Millis(0);
        CoreScheduler {
            core: Core::new(config, clock),
            journal,
        }
    }
}

impl Scheduler for CoreScheduler {
    type Ticket = TicketOf<StdSync>;

    fn submit(&self, item: Item) -> Option<Self::Ticket> {
        self.core
            .submit(item)
            .expect("the workload submits fresh ids to unbounded queues")
            .ticket()
    }

    fn spawned(&self, ticket: &Self::Ticket) {
        self.core
            .spawned(ticket.run)
            .expect("a fresh, uncancelled ticket may spawn");
    }

    fn finish(&self, ticket: Self::Ticket) -> Vec<Self::Ticket> {
        let report = self
            .core
            .finish(ticket.run, Outcome::Completed)
            .expect("every ticket is finished exactly once");
        if self.journal {
            // Taken at every finish, as a runner that persists each step
            // would; it also keeps the journal from growing through the run.
            let entries = self.core.drain_journal();
            assert!(!entries.is_empty(), "a journalling core records every step");
        }
        report.tickets
    }

    fn counts(&self) -> Counts {
        Counts {
            in_flight: self.core.in_flight(),
            queued: self.core.queued(),
        }
    }

    fn settle(&self) {
        self.core.drain_journal();
    }
}
