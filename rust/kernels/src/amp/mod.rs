//! Approximate message passing loops.

pub mod low_rank;

pub use low_rank::{amp_wigner, amp_wishart, AmpOptions, AmpOutput};
