//! The file store's commit requests (mqtt spec §7.5, group commit): an
//! event loop whose connection's acknowledgements (PUBACK, PUBREC, SUBACK)
//! depend on a commit epoch asks for that epoch here and goes on serving
//! its other connections; the committer thread (started with the store,
//! `crate::session::mqtt_store`) writes the epoch in one redb transaction
//! (the `fdatasync` off the event loop) and then wakes every loop that
//! asked, which sends the acknowledgements it held.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The queue between the loops and the committer thread.
#[derive(Default)]
pub(crate) struct Committer {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// The newest epoch asked for (0: no request pending).
    need: u64,
    /// Indexes of the loops to wake after the next commit.
    loops: Vec<usize>,
    /// The thread stops (server shutdown).
    stop: bool,
}

/// What the committer thread does next (see [`Committer::next`]).
pub(crate) enum Next {
    /// Commit up to this epoch, then wake these loops.
    Commit(u64, Vec<usize>),
    /// Nothing was asked for within the wait: write lazy changes if due.
    Idle,
    /// Shut down.
    Stop,
}

impl Committer {
    /// Loop `loop_idx` waits for `epoch` to be durable (non-blocking).
    pub(crate) fn request(&self, epoch: u64, loop_idx: usize) {
        let mut st = self.state.lock().expect("committer");
        st.need = st.need.max(epoch);
        if !st.loops.contains(&loop_idx) {
            st.loops.push(loop_idx);
        }
        drop(st);
        self.wake.notify_one();
    }

    /// The committer thread's wait: the pending request (taken), or
    /// [`Next::Idle`] after `idle` without one, or [`Next::Stop`].
    pub(crate) fn next(&self, idle: Duration) -> Next {
        let mut st = self.state.lock().expect("committer");
        if st.need == 0 && !st.stop {
            st = self.wake.wait_timeout(st, idle).expect("committer").0;
        }
        if st.stop {
            return Next::Stop;
        }
        if st.need == 0 {
            return Next::Idle;
        }
        let need = std::mem::take(&mut st.need);
        Next::Commit(need, std::mem::take(&mut st.loops))
    }

    /// Stops the thread at its next wait.
    pub(crate) fn stop(&self) {
        self.state.lock().expect("committer").stop = true;
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_merge_into_the_newest_epoch_and_every_loop() {
        let c = Committer::default();
        assert!(matches!(c.next(Duration::ZERO), Next::Idle));
        c.request(3, 1);
        c.request(2, 0);
        c.request(4, 1);
        match c.next(Duration::ZERO) {
            Next::Commit(e, loops) => {
                assert_eq!(e, 4);
                assert_eq!(loops, vec![1, 0]);
            }
            _ => panic!("expected a commit"),
        }
        assert!(matches!(c.next(Duration::ZERO), Next::Idle));
        c.request(5, 0);
        c.stop();
        assert!(matches!(c.next(Duration::from_secs(5)), Next::Stop));
    }

    #[test]
    fn a_request_from_another_thread_ends_the_wait() {
        let c = std::sync::Arc::new(Committer::default());
        let c2 = c.clone();
        let t = std::thread::spawn(move || c2.next(Duration::from_secs(30)));
        c.request(7, 2);
        // Either the request came before the wait or it ended it: never Idle
        // (that would take 30 s).
        match t.join().expect("thread") {
            Next::Commit(7, loops) => assert_eq!(loops, vec![2]),
            _ => panic!("expected the request"),
        }
    }
}
