//! Gatehouse: who is in a workspace and what each person may do.
//!
//! Everything testable lives in this library; `main.rs` is only the command line.
//! Dependencies point one way: `web` → `services` → `models` → `db`.

pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod links;
pub mod mail;
pub mod models;
pub mod permissions;
pub mod seed;
pub mod services;
pub mod startup;
pub mod state;
pub mod text;
pub mod tokens;
pub mod web;
