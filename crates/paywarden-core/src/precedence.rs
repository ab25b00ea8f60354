//! Which of two states of one object is newer.
//!
//! Stripe does not deliver events in order, and one object can change twice
//! within a second. Every projected object row remembers the precedence of
//! the state it holds, and a state is written only if its precedence is
//! greater. Precedence orders, in turn, by:
//!
//! 1. `terminal`: a state that ends the object (a canceled subscription, a
//!    deleted customer) beats every state that does not, so a late
//!    `updated` never revives a deleted object;
//! 2. `created`: the event's Stripe timestamp (seconds);
//! 3. `rank`: within the same second, the state further along the object's
//!    lifecycle (for subscriptions see `SubscriptionStatus::rank`);
//! 4. `event_id`: a last, arbitrary but fixed tie-break, so that two states
//!    are never equal unless they come from the same event.
//!
//! Because this is a total order and a write keeps the maximum, applying any
//! set of events in any order, with any repetition, ends in the same state.

use std::cmp::Ordering;

use crate::ids::EventId;

/// The precedence of one projected state. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Precedence {
    pub terminal: bool,
    pub created: i64,
    pub rank: i32,
    pub event_id: EventId,
}

impl Precedence {
    fn key(&self) -> (bool, i64, i32, &str) {
        (
            self.terminal,
            self.created,
            self.rank,
            self.event_id.as_str(),
        )
    }
}

impl Ord for Precedence {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Precedence {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(terminal: bool, created: i64, rank: i32, id: &str) -> Precedence {
        Precedence {
            terminal,
            created,
            rank,
            event_id: id.parse().expect("event id"),
        }
    }

    #[test]
    fn terminal_beats_later_non_terminal() {
        assert!(p(true, 10, 8, "evt_a") > p(false, 99, 2, "evt_b"));
    }

    #[test]
    fn same_second_goes_by_rank_then_event_id() {
        assert!(p(false, 10, 2, "evt_a") > p(false, 10, 0, "evt_z"));
        assert!(p(false, 10, 2, "evt_b") > p(false, 10, 2, "evt_a"));
        assert_eq!(
            p(false, 10, 2, "evt_a").cmp(&p(false, 10, 2, "evt_a")),
            Ordering::Equal
        );
    }
}
