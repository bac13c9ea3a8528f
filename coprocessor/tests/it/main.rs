//! Integration tests of the coprocessor crate: the blob store on a folder and in memory, and the
//! blob endpoint through `Router::oneshot`.

mod blobs;
mod queue;
