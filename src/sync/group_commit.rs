//! Group commit: requests from many tasks written together. Writer tasks take whatever is
//! waiting, up to a batch limit, and hand the batch to a write function that stores it in one
//! transaction and answers each request. Ingest (webhooks) and event completions both use it.

use std::future::Future;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};

/// Start `writers` writer tasks feeding `write` with batches of at most `max_batch` requests,
/// and return the queue that feeds them (`capacity` waiting requests before senders wait too).
/// The writers stop when every sender is dropped.
pub(super) fn spawn_writers<T, F, Fut>(
    writers: usize,
    capacity: usize,
    max_batch: usize,
    write: F,
) -> mpsc::Sender<T>
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(capacity);
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..writers.max(1) {
        let (receiver, write) = (receiver.clone(), write.clone());
        tokio::spawn(async move {
            while let Some(batch) = next_batch(&receiver, max_batch).await {
                write(batch).await;
            }
        });
    }
    sender
}

/// Wait for one request, then take whatever else is already waiting, up to `max_batch`.
async fn next_batch<T>(receiver: &Mutex<mpsc::Receiver<T>>, max_batch: usize) -> Option<Vec<T>> {
    let mut receiver = receiver.lock().await;
    let mut batch = vec![receiver.recv().await?];
    while batch.len() < max_batch {
        match receiver.try_recv() {
            Ok(request) => batch.push(request),
            Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn waiting_requests_are_written_together_and_each_is_answered() {
        let (sizes_tx, mut sizes) = mpsc::unbounded_channel();
        let sender = spawn_writers(1, 64, 8, move |batch: Vec<(u32, oneshot::Sender<u32>)>| {
            let sizes_tx = sizes_tx.clone();
            async move {
                let _ = sizes_tx.send(batch.len());
                for (n, reply) in batch {
                    let _ = reply.send(n * 2);
                }
            }
        });
        // Queue 20 requests before the writer runs: they go in batches of at most 8.
        let mut answers = Vec::new();
        for n in 0..20 {
            let (reply, answer) = oneshot::channel();
            sender.send((n, reply)).await.unwrap();
            answers.push(answer);
        }
        for (n, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.await.unwrap(), n as u32 * 2);
        }
        drop(sender);
        let mut seen = Vec::new();
        while let Some(size) = sizes.recv().await {
            seen.push(size);
        }
        assert_eq!(seen.iter().sum::<usize>(), 20);
        assert!(seen.iter().all(|&s| s <= 8), "{seen:?}");
        assert!(seen.len() < 20, "requests were batched: {seen:?}");
    }
}
