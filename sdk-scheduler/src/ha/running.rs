//! A framework at work on a store: the router of its API, its driver, the scheduler the
//! driver runs and the loop beside it. Dropped, it stops them all.

use std::future::Future;

use axum::Router;
use tokio::task::JoinHandle;

use crate::{Driver, Error, Scheduler};

/// What a framework's `start` hands back to [`serve`](super::serve).
pub struct Running {
    router: Router,
    driver: Driver,
    framework: Option<JoinHandle<Result<(), Error>>>,
    beside: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").finish_non_exhaustive()
    }
}

impl Running {
    /// Runs `scheduler` on `driver`, and `beside` next to it (a loop that steps the
    /// framework's state), behind `router`.
    pub fn start<S>(
        router: Router,
        driver: Driver,
        mut scheduler: S,
        beside: impl Future<Output = ()> + Send + 'static,
    ) -> Self
    where
        S: Scheduler + 'static,
    {
        let running = driver.clone();
        let framework = tokio::spawn(async move { running.run(&mut scheduler).await });
        Running {
            router,
            driver,
            framework: Some(framework),
            beside: vec![tokio::spawn(beside)],
        }
    }

    pub(crate) fn router(&self) -> Router {
        self.router.clone()
    }

    /// Resolves when the driver stops driving the framework (it was torn down, or failed).
    pub(crate) async fn ended(&mut self) -> Result<(), Error> {
        match self.framework.as_mut() {
            Some(framework) => match framework.await {
                Ok(result) => result,
                Err(err) => Err(Error::Serve(std::io::Error::other(err))),
            },
            None => std::future::pending().await,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.driver.stop();
        if let Some(framework) = &self.framework {
            framework.abort();
        }
        for task in &self.beside {
            task.abort();
        }
    }
}
