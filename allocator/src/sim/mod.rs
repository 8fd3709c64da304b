//! The scale simulator (filled in below).
