//! Threads that do work which may wait: the provisioning log's. Such a thread runs at the
//! lowest scheduling priority there is (Linux's `SCHED_IDLE`), so that it takes only the CPU
//! time that the runtime's workers and the directory's writer leave idle, and never delays a
//! SCIM request by competing with it for a core. What it does must therefore have another
//! thread, at normal priority, that takes over when the work has waited too long (on a
//! machine busy for seconds, an idle-priority thread may not run at all): see the provisioning
//! log's recorder and its SQLite writer.
//!
//! A thread cannot raise its own priority back without privileges (`RLIMIT_NICE`), so the
//! two kinds are always separate threads.

/// How a thread that works for the provisioning log is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// As every other thread of the process.
    Normal,
    /// Only when a core would otherwise be idle.
    Background,
}

impl Priority {
    /// Puts the calling thread at this priority. A thread is created at normal priority, so
    /// [`Priority::Normal`] changes nothing. Failing (a system that forbids the call) leaves the
    /// thread at normal priority and says so in the log: the work is done either way.
    pub fn apply_to_this_thread(self, name: &str) {
        if self == Priority::Normal {
            return;
        }
        #[cfg(target_os = "linux")]
        {
            use thread_priority::unix::{
                NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
                thread_native_id,
            };
            if let Err(e) = set_thread_priority_and_policy(
                thread_native_id(),
                thread_priority::ThreadPriority::Min,
                ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
            ) {
                tracing::warn!(thread = name, error = ?e, "the thread stays at normal priority");
            }
        }
        #[cfg(not(target_os = "linux"))]
        tracing::debug!(thread = name, "background priority is only set on Linux");
    }

    /// Starts a thread named `name` at this priority, running `f`.
    pub fn spawn(
        self,
        name: &str,
        f: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let named = name.to_owned();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                self.apply_to_this_thread(&named);
                f();
            })
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The scheduling policy of the calling thread, from `/proc` (`SCHED_IDLE` is 5).
    fn policy() -> u32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("its stat");
        // The fields after the command's closing parenthesis; the policy is the 41st field.
        let rest = &stat[stat.rfind(')').expect("a command") + 2..];
        rest.split(' ')
            .nth(38)
            .expect("a policy")
            .parse()
            .expect("a number")
    }

    #[test]
    fn a_background_thread_runs_at_idle_priority_and_a_normal_one_as_created() {
        let background = std::thread::spawn(|| {
            Priority::Background.apply_to_this_thread("test");
            policy()
        });
        let normal = std::thread::spawn(|| {
            Priority::Normal.apply_to_this_thread("test");
            policy()
        });
        assert_eq!(background.join().expect("ran"), 5);
        assert_eq!(normal.join().expect("ran"), 0);
    }
}
