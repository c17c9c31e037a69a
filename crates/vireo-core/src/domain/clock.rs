//! `<clock>`: offset and timers.

use std::borrow::Cow;

use super::util::{bool_attr, yes_no};
use super::{DOMAIN_ORDER, DomainError};
use crate::xml::Element;

/// A `<timer>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// `rtc`, `pit`, `hpet`, `kvmclock`, `hypervclock`, `tsc`, …
    pub name: String,
    pub present: Option<bool>,
    /// `delay`, `catchup`, `merge`, `discard`.
    pub tickpolicy: Option<String>,
}

/// A read view of `<clock>`.
#[derive(Debug, Clone, Copy)]
pub struct Clock<'a> {
    el: &'a Element,
}

impl<'a> Clock<'a> {
    pub(crate) fn new(el: &'a Element) -> Clock<'a> {
        Clock { el }
    }

    /// The `<clock>` element.
    pub fn element(&self) -> &'a Element {
        self.el
    }

    /// `offset=` (`utc`, `localtime`, `timezone`, `variable`, `absolute`).
    pub fn offset(&self) -> Option<Cow<'a, str>> {
        self.el.attr("offset")
    }

    /// The timers.
    pub fn timers(&self) -> Result<Vec<Timer>, DomainError> {
        self.el
            .children_named("timer")
            .map(|t| {
                Ok(Timer {
                    name: t.attr("name").map(Cow::into_owned).unwrap_or_default(),
                    present: bool_attr(t, "present")?,
                    tickpolicy: t.attr("tickpolicy").map(Cow::into_owned),
                })
            })
            .collect()
    }

    /// The timer with this name.
    pub fn timer(&self, name: &str) -> Result<Option<Timer>, DomainError> {
        Ok(self.timers()?.into_iter().find(|t| t.name == name))
    }
}

/// Edits `<clock>`, creating it on the first change.
#[derive(Debug)]
pub struct ClockMut<'a> {
    root: &'a mut Element,
}

impl<'a> ClockMut<'a> {
    pub(crate) fn new(root: &'a mut Element) -> ClockMut<'a> {
        ClockMut { root }
    }

    /// The `<clock>` element (created when missing).
    pub fn element(&mut self) -> &mut Element {
        self.root.ensure_child_ordered("clock", DOMAIN_ORDER)
    }

    /// Sets `offset=`.
    pub fn set_offset(&mut self, offset: &str) {
        self.element().set_attr("offset", offset);
    }

    /// Adds or updates a timer; `present` and `tickpolicy` are set or removed.
    pub fn set_timer(&mut self, name: &str, present: Option<bool>, tickpolicy: Option<&str>) {
        let clock = self.element();
        let timer = clock.ensure_child_with(
            |t| t.name() == "timer" && t.attr("name").as_deref() == Some(name),
            || Element::new("timer").with_attr("name", name),
        );
        timer.set_attr_opt("tickpolicy", tickpolicy);
        timer.set_attr_opt("present", present.map(yes_no));
    }

    /// Removes a timer.
    pub fn remove_timer(&mut self, name: &str) -> bool {
        let Some(clock) = self.root.child_mut("clock") else {
            return false;
        };
        clock.retain_elements(|t| !(t.name() == "timer" && t.attr("name").as_deref() == Some(name)))
            > 0
    }
}
