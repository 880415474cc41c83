//! The door state machine (pure, monotonic `now` passed in: a wall-clock step changes no
//! pulse or held-open wait): it turns grants, exit-button presses,
//! door-contact readings, mode changes and the passing of time into relay commands and
//! door events. The door actor (later) feeds it from the bus and carries out its output.
//!
//! Rules: a grant or the exit button releases the strike for the pulse; the strike locks
//! again when the pulse ends or when the door closes after it was opened. A door that
//! opens while locked (no grant, no exit request, not free passage) is *forced*. A door
//! open longer than the held-open limit raises *held open* once, cleared when it closes.
//! A contact that cannot be read raises *contact fault*; readings clear it. Free passage
//! keeps the strike released; lockdown keeps it locked (grants still pulse: the core only
//! grants roles allowed to override a lockdown).

use jiff::SignedDuration;

use crate::core::model::DoorMode;
use crate::core::monotonic::Monotonic;

/// What the machine is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The core granted access: release for this long.
    Grant(SignedDuration),
    /// The exit button was pressed.
    ExitButton,
    /// The door contact was read: `true` when the door is open, `None` when unreadable.
    Contact(Option<bool>),
    /// The door's mode changed.
    Mode(DoorMode),
    /// The door's free-passage schedule opened (`true`) or closed: the strike is held
    /// released inside the window, as in the free-passage mode.
    Scheduled(bool),
    /// Time passed (the actor ticks at its poll interval).
    Tick,
}

/// What the strike should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// Released (door can be opened).
    Released,
    /// Locked.
    Locked,
}

/// Something worth recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DoorEvent {
    /// Opened while released (by a grant, an exit request or free passage).
    Opened,
    /// Opened while locked: forced open.
    ForcedOpen,
    /// Closed.
    Closed,
    /// Open longer than the limit.
    HeldOpen,
    /// The contact could not be read.
    ContactFault,
    /// The contact can be read again.
    ContactRestored,
}

/// What the machine answers: the strike (when it must change) and events.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// The strike's new state, when it changes.
    pub strike: Option<Strike>,
    /// Events, in order.
    pub events: Vec<DoorEvent>,
}

/// One door's state.
// The flags are independent facts about one door (window, opened during a release, alarm,
// contact fault); an enum would only encode their combinations.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorMachine {
    held_open_after: SignedDuration,
    exit_pulse: SignedDuration,
    mode: DoorMode,
    /// Inside the door's free-passage window (in normal mode).
    scheduled_free: bool,
    released_until: Option<Monotonic>,
    strike: Strike,
    open_since: Option<Monotonic>,
    opened_during_release: bool,
    held_alarm: bool,
    contact_fault: bool,
}

impl DoorMachine {
    /// A closed, locked door in normal mode; the exit button releases for `exit_pulse`.
    pub fn new(held_open_after: SignedDuration, exit_pulse: SignedDuration) -> Self {
        Self {
            held_open_after,
            exit_pulse,
            mode: DoorMode::Normal,
            scheduled_free: false,
            released_until: None,
            strike: Strike::Locked,
            open_since: None,
            opened_during_release: false,
            held_alarm: false,
            contact_fault: false,
        }
    }

    /// The strike's current state.
    pub fn strike(&self) -> Strike {
        self.strike
    }

    /// Whether the door is open (as last read).
    pub fn is_open(&self) -> bool {
        self.open_since.is_some()
    }

    /// Whether the contact can be read (false after a contact fault until it reads again).
    pub fn contact_readable(&self) -> bool {
        !self.contact_fault
    }

    /// Whether time passing can change anything: a pulse to end, or a held-open limit to
    /// reach. When no door needs it, the gateway does not tick at all.
    pub fn needs_tick(&self) -> bool {
        self.released_until.is_some() || (self.open_since.is_some() && !self.held_alarm && !self.held_free())
    }

    /// Whether the door is held free (the free-passage mode, or its window in normal mode).
    fn held_free(&self) -> bool {
        self.mode == DoorMode::FreePassage || (self.scheduled_free && self.mode == DoorMode::Normal)
    }

    /// Whether a held-open alarm is raised.
    pub fn held_open(&self) -> bool {
        self.held_alarm
    }

    fn wanted_strike(&self, now: Monotonic) -> Strike {
        match self.mode {
            _ if self.held_free() => Strike::Released,
            _ if self.released_until.is_some_and(|t| now < t) => Strike::Released,
            _ => Strike::Locked,
        }
    }

    /// Feeds one input.
    pub fn step(&mut self, input: Input, now: Monotonic) -> Output {
        let mut out = Output::default();
        match input {
            Input::Grant(pulse) => self.release(now + pulse),
            Input::ExitButton => self.release(now + self.exit_pulse),
            Input::Mode(m) => {
                let was_free = self.held_free();
                self.mode = m;
                self.free_ended(was_free, now);
            }
            Input::Scheduled(open) => {
                let was_free = self.held_free();
                self.scheduled_free = open;
                self.free_ended(was_free, now);
            }
            Input::Tick => {}
            Input::Contact(None) => {
                if !self.contact_fault {
                    self.contact_fault = true;
                    out.events.push(DoorEvent::ContactFault);
                }
            }
            Input::Contact(Some(open)) => {
                if self.contact_fault {
                    self.contact_fault = false;
                    out.events.push(DoorEvent::ContactRestored);
                }
                self.contact(open, now, &mut out);
            }
        }
        if let Some(since) = self.open_since
            && !self.held_alarm
            && !self.held_free()
            && now.duration_since(since) >= self.held_open_after
        {
            self.held_alarm = true;
            out.events.push(DoorEvent::HeldOpen);
        }
        if self.released_until.is_some_and(|t| now >= t) {
            self.released_until = None;
        }
        let wanted = self.wanted_strike(now);
        if wanted != self.strike {
            self.strike = wanted;
            out.strike = Some(wanted);
        }
        out
    }

    /// Open while held free was normal: when that ends, the held-open limit counts from then.
    fn free_ended(&mut self, was_free: bool, now: Monotonic) {
        if was_free && !self.held_free() && self.open_since.is_some() {
            self.open_since = Some(now);
        }
    }

    fn release(&mut self, until: Monotonic) {
        self.released_until = Some(self.released_until.map_or(until, |t| t.max(until)));
        self.opened_during_release = false;
    }

    fn contact(&mut self, open: bool, now: Monotonic, out: &mut Output) {
        match (open, self.open_since) {
            (true, None) => {
                self.open_since = Some(now);
                let released = self.strike == Strike::Released || self.held_free();
                if released {
                    self.opened_during_release = true;
                    out.events.push(DoorEvent::Opened);
                } else {
                    out.events.push(DoorEvent::ForcedOpen);
                }
            }
            (false, Some(_)) => {
                self.open_since = None;
                self.held_alarm = false;
                out.events.push(DoorEvent::Closed);
                if self.opened_during_release {
                    // Relock as soon as the door is shut again; the pulse is used up.
                    self.released_until = None;
                    self.opened_during_release = false;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DoorEvent::{Closed, ContactFault, ContactRestored, ForcedOpen, HeldOpen, Opened};
    use Input::{Contact, ExitButton, Grant, Mode, Tick};

    fn t(s: i64) -> Monotonic {
        Monotonic::from_origin(SignedDuration::from_secs(1_000 + s))
    }

    const PULSE: SignedDuration = SignedDuration::from_secs(5);

    /// Runs (second, input) steps and returns (strike changes, events) per step.
    fn run(steps: &[(i64, Input)]) -> Vec<(Option<Strike>, Vec<DoorEvent>)> {
        let mut m = DoorMachine::new(SignedDuration::from_secs(60), PULSE);
        steps
            .iter()
            .map(|&(s, i)| {
                let o = m.step(i, t(s));
                (o.strike, o.events)
            })
            .collect()
    }

    #[test]
    fn a_grant_releases_for_the_pulse_then_locks() {
        assert_eq!(
            run(&[(0, Grant(PULSE)), (4, Tick), (5, Tick), (6, Tick)]),
            vec![(Some(Strike::Released), vec![]), (None, vec![]), (Some(Strike::Locked), vec![]), (None, vec![])]
        );
    }

    #[test]
    fn the_strike_locks_as_soon_as_the_door_closes_after_opening() {
        assert_eq!(
            run(&[(0, Grant(PULSE)), (1, Contact(Some(true))), (3, Contact(Some(false)))]),
            vec![(Some(Strike::Released), vec![]), (None, vec![Opened]), (Some(Strike::Locked), vec![Closed])]
        );
    }

    #[test]
    fn opening_without_grant_or_exit_request_is_forced() {
        assert_eq!(
            run(&[(0, Contact(Some(true))), (2, Contact(Some(false)))]),
            vec![(None, vec![ForcedOpen]), (None, vec![Closed]),]
        );
    }

    #[test]
    fn the_exit_button_releases_so_leaving_is_not_forced() {
        assert_eq!(
            run(&[(0, ExitButton), (1, Contact(Some(true)))]),
            vec![(Some(Strike::Released), vec![]), (None, vec![Opened]),]
        );
    }

    #[test]
    fn a_door_open_too_long_raises_held_open_once_and_clears_on_closing() {
        let out = run(&[
            (0, Grant(PULSE)),
            (1, Contact(Some(true))),
            (60, Tick),
            (61, Tick),
            (62, Tick),
            (90, Contact(Some(false))),
            (100, Grant(PULSE)),
            (101, Contact(Some(true))),
            (170, Tick),
        ]);
        let events: Vec<Vec<DoorEvent>> = out.into_iter().map(|(_, e)| e).collect();
        assert_eq!(
            events,
            vec![
                vec![],
                vec![Opened],
                vec![],
                vec![HeldOpen],
                vec![],
                vec![Closed],
                vec![],
                vec![Opened],
                vec![HeldOpen]
            ]
        );
    }

    #[test]
    fn free_passage_keeps_the_strike_released_and_held_open_counts_from_its_end() {
        let out = run(&[
            (0, Mode(DoorMode::FreePassage)),
            (1, Contact(Some(true))),
            (500, Tick),
            (501, Mode(DoorMode::Normal)),
            (560, Tick),
            (561, Tick),
        ]);
        assert_eq!(
            out,
            vec![
                (Some(Strike::Released), vec![]),
                (None, vec![Opened]),
                (None, vec![]),
                (Some(Strike::Locked), vec![]),
                (None, vec![]),
                (None, vec![HeldOpen]),
            ]
        );
    }

    #[test]
    fn a_free_passage_window_holds_the_strike_released_and_opening_in_it_is_not_forced() {
        use Input::Scheduled;
        let out = run(&[
            (0, Scheduled(true)),
            (1, Contact(Some(true))),
            (500, Tick),
            (501, Scheduled(false)),
            (561, Tick),
            (600, Contact(Some(false))),
            (601, Mode(DoorMode::Lockdown)),
            (602, Scheduled(true)),
        ]);
        assert_eq!(
            out,
            vec![
                (Some(Strike::Released), vec![]),
                (None, vec![Opened]),
                (None, vec![]),
                (Some(Strike::Locked), vec![]),
                (None, vec![HeldOpen]),
                (None, vec![Closed]),
                (None, vec![]),
                (None, vec![]), // a lockdown wins over the window
            ]
        );
    }

    #[test]
    fn an_unreadable_contact_raises_one_fault_and_a_reading_restores_it() {
        assert_eq!(
            run(&[(0, Contact(None)), (1, Contact(None)), (2, Contact(Some(false)))]),
            vec![(None, vec![ContactFault]), (None, vec![]), (None, vec![ContactRestored]),]
        );
    }

    #[test]
    fn a_second_grant_extends_the_release_instead_of_cutting_it() {
        assert_eq!(
            run(&[(0, Grant(PULSE)), (3, Grant(PULSE)), (6, Tick), (8, Tick)]),
            vec![(Some(Strike::Released), vec![]), (None, vec![]), (None, vec![]), (Some(Strike::Locked), vec![]),]
        );
    }

    #[test]
    fn a_door_needs_ticks_only_while_a_pulse_runs_or_a_held_open_limit_is_ahead() {
        let mut m = DoorMachine::new(SignedDuration::from_secs(60), PULSE);
        assert!(!m.needs_tick(), "a closed, locked door waits for nothing");
        m.step(Grant(PULSE), t(0));
        assert!(m.needs_tick(), "the pulse must end");
        m.step(Tick, t(5));
        assert!(!m.needs_tick());
        m.step(Contact(Some(true)), t(10));
        assert!(m.needs_tick(), "the held-open limit lies ahead");
        m.step(Tick, t(70));
        assert!(!m.needs_tick(), "the alarm is raised; nothing more to wait for");
        m.step(Contact(Some(false)), t(80));
        assert!(!m.needs_tick());
    }
}
