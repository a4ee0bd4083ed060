//! Start-up of the durable MQTT store (`mqtt { store: file }`, or a
//! `store_dir` from the `mqtt` or `jetstream` block): opens
//! `<store_dir>/mqtt/state.redb` and restores the persistent sessions
//! (offline, their subscriptions back in their accounts' routers) and the
//! retained messages (mqtt spec §7.5 "Recovery at start").

use std::sync::Arc;

use natsws_core::time::Millis;

use crate::shared::Shared;

/// Opens the store and restores what it holds; a failure stops the start.
pub(crate) fn open(shared: &Arc<Shared>) -> std::io::Result<()> {
    let settings = shared.settings();
    let Some(m) = settings.mqtt.as_ref() else {
        return Ok(());
    };
    shared.mqtt.max_pending.store(
        settings.max_pending_for(crate::kind::ConnKind::MQTT),
        std::sync::atomic::Ordering::Relaxed,
    );
    let Some(dir) = &m.store_dir else {
        return Ok(());
    };
    let fail = |e: crate::mqtt::store::StoreError| std::io::Error::other(e.to_string());
    shared.mqtt.open_store(dir).map_err(fail)?;
    let n = shared
        .mqtt
        .restore(
            usize::from(m.max_ack_pending),
            Millis(m.ack_wait.as_millis() as u64),
            shared.now(),
            |acc, sub| {
                crate::deliver::subscribe(shared, &shared.accounts.get(acc), sub);
            },
        )
        .map_err(fail)?;
    crate::info!(
        "MQTT state in {} ({n} persistent sessions restored)",
        dir.join("mqtt").join("state.redb").display()
    );
    spawn_committer(shared)
}

/// Starts the committer thread (`natsws-mqtt-commit`): it writes the
/// epochs the loops ask for ([`crate::mqtt::committer`]) and wakes them,
/// and the lazy changes within [`crate::mqtt::LAZY_COMMIT`]. It holds the
/// server state weakly and ends with it, or at shutdown.
fn spawn_committer(shared: &Arc<Shared>) -> std::io::Result<()> {
    use crate::mqtt::committer::{Committer, Next};
    let c = Arc::new(Committer::default());
    let weak = Arc::downgrade(shared);
    let queue = c.clone();
    std::thread::Builder::new()
        .name("natsws-mqtt-commit".into())
        .spawn(move || loop {
            let next = queue.next(crate::mqtt::LAZY_COMMIT);
            let Some(shared) = weak.upgrade() else {
                return;
            };
            match next {
                Next::Stop => return,
                Next::Idle => shared.mqtt.commit_epoch(0),
                Next::Commit(epoch, loops) => {
                    shared.mqtt.commit_epoch(epoch);
                    for l in loops {
                        if let Some(h) = shared.loops.get(l) {
                            let _ = h.waker.wake();
                        }
                    }
                }
            }
        })?;
    shared.mqtt.set_committer(c);
    Ok(())
}
