//! Integration tests of the coprocessor crate: the blob store on a folder and in memory, and the
//! blob endpoint through `Router::oneshot` and under abuse on a real socket.

mod abuse;
mod blobs;
mod queue;
